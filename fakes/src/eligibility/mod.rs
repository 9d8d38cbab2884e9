//! Online eligibility confirmation (オンライン資格確認), the answering side: the
//! implementing body's qualification check as seen through the qualification
//! terminal (資格確認端末). docs/DOMAIN.md §7.
//!
//! Pure core shared by the file drop (`sim::terminal`) and the later mutual-TLS API:
//! - [`xml`]: the XmlMsg vocabulary, parsed and written (with [`encoding`] for
//!   Shift_JIS / UTF-8, [`tree`] for the element tree, and `single` for the fast
//!   path of the single inquiry);
//! - [`error`]: the `ErrorCode` table of abnormal answers *(our choice)*;
//! - [`population`]: a synthetic, seeded population looked up in O(1);
//! - [`answer`]: single, card-based and bulk (一括照会) answering;
//! - [`terminal`]: request file name + bytes → response file name + bytes;
//! - [`card_refusal`]: the `face/` answer for a card the reader refused;
//! - [`other`]: the other interfaces dropped into the same folder (薬剤情報, 特定健診,
//!   照会番号, the 医療扶助 / オンライン診療 / 訪問診療 bulk kinds), docs/INTERFACE.md §5.

pub mod answer;
pub mod card_refusal;
pub mod checkup;
pub mod drug;
pub mod encoding;
pub mod error;
pub mod health_info;
pub mod other;
pub mod other_bulk;
pub mod population;
pub mod reference;
pub mod request;
pub mod response;
mod single;
pub mod terminal;
pub mod tree;
pub mod values;
pub mod xml;

#[cfg(test)]
mod props;

pub use answer::{AnswerConfig, ReaderConsents, Service, VerifiedCardHolder};
pub use encoding::CharacterCode;
pub use error::{EligibilityError, ErrorCode};
pub use population::{Population, PopulationConfig, SearchKey};
pub use terminal::Terminal;
pub use values::QualificationValidity;
