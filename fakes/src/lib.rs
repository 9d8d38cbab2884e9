//! # fakes — the world that onsim simulates
//!
//! Everything here is pure: no sockets, no clock reads, no randomness except an RNG
//! that is handed in. The event engine in `sim` (timeline mode) and the live services
//! (live mode) drive the very same state machines, so a rule lives in exactly one place.
//!
//! Map of the crate:
//! - [`codes`]: institution codes (医療機関等コード), insurer numbers (保険者番号),
//!   reception numbers (受付番号), temporary codes (仮コード), prefectures, bureaus.
//! - [`calendar`]: national holidays of Japan and the bureaus' open days (開庁日).
//! - [`schedule`]: the r2021 and r2024 rule sets, turning a designation date into dated
//!   milestones.
//! - [`dist`]: lead times and delays as distributions of days (fixed, uniform,
//!   triangular, log-normal, empirical).
//! - [`eligibility`]: online eligibility confirmation (オンライン資格確認): the XmlMsg
//!   vocabulary, a synthetic population, answering, and the terminal's file drop.
//! - [`pki`], [`card`], [`reader`]: certificates, the virtual My Number card (JPKI) and
//!   the simulated face-authentication card reader.

pub mod calendar;
pub mod card;
pub mod codes;
pub mod dist;
pub mod ecosystem;
pub mod eligibility;
pub mod pki;
pub mod process;
pub mod reader;
pub mod schedule;
pub mod serde_date;
pub mod time;
