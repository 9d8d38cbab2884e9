//! Each actor's parameters: lead times and delays as distributions, so one model
//! serves single scenarios and sweeps. Defaults follow the guides (docs/DOMAIN.md §2, §5);
//! where no public figure exists the default is marked *(our choice)*.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::dist::Dist;

fn fixed(d: f64) -> Dist {
    Dist::fixed(d)
}

/// 地方厚生（支）局.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BureauParams {
    /// Business days to handle a request before the answer can go out *(our choice: 3)*.
    pub processing: Dist,
    /// Calendar days the post takes *(our choice: 1–3)*.
    pub postal: Dist,
    /// Extra closed days of this bureau.
    #[serde(deserialize_with = "crate::serde_date::vec_date")]
    pub closures: Vec<NaiveDate>,
    /// Business days to move the request deadline (negative: earlier).
    pub request_deadline_shift: i32,
    /// Business days the clinic needs to answer a correction request (補正).
    pub correction_turnaround: Dist,
    /// The institution number the bureau hands out next (its numbering counter).
    pub next_number: u16,
    /// When its handling (`processing`) would end after the answer date (the 10th, or
    /// the next open day), does the bureau still answer on the answer date? Seed 000
    /// 1(2) and 001 1(2) say "原則として…10日…までに…発送" *(our choice: true, the
    /// bureau keeps its date in priority; the trace says when it had to)*. With
    /// `false` the answer goes out when handling ends (`bureau-answer-late`).
    pub keeps_answer_date: bool,
    /// r2021 2, the number-reuse hazard: another clinic of this bureau that asked for a
    /// reception number and was not designated, so its record was deleted. The
    /// timeline runs one clinic; the neighbour lives in the bureau's state *(our
    /// choice: it shares the bureau's numbering counter, county and fee table)*.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbour: Option<Neighbour>,
}

/// A neighbour clinic of the same bureau whose record is deleted (r2021 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Neighbour {
    /// The day the bureau received the neighbour's request and gave it a number.
    #[serde(deserialize_with = "crate::serde_date::date")]
    pub request: NaiveDate,
    /// The day the neighbour was not designated and its record deleted (after `request`).
    #[serde(deserialize_with = "crate::serde_date::date")]
    pub deleted: NaiveDate,
    /// Whether the bureau enters the next code by hand after asking the helpdesk, as
    /// seed 000 2 tells it to ("ヘルプデスクに確認した医療機関等コードを手動で入力すること");
    /// default true. With `false` the system hands the deleted number out again.
    #[serde(default = "yes")]
    pub manual_entry: bool,
}

fn yes() -> bool {
    true
}

impl Default for BureauParams {
    fn default() -> Self {
        BureauParams {
            processing: fixed(3.0),
            postal: Dist::Uniform { min: 1.0, max: 3.0 },
            closures: Vec::new(),
            request_deadline_shift: 0,
            correction_turnaround: fixed(5.0),
            next_number: 101,
            keeps_answer_date: true,
            neighbour: None,
        }
    }
}

/// 医療保険情報提供等実施機関.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ImplementingBodyParams {
    /// Business days from the reception number to a usable portal account (r2024 guide:
    /// ~4); under r2021, for the number to replace the 仮コード in the account made with
    /// it (000 別紙1 入替) *(our choice: the same figure)*.
    pub account_lead: Dist,
    /// Business days to issue a temporary code (r2021) *(our choice: 3)*.
    pub temporary_code_lead: Dist,
    /// Business days from the certificate application to issuing *(our choice: 2–4)*.
    pub certificate_lead: Dist,
    /// Calendar days registered mail takes *(our choice: 2–4)*.
    pub mail: Dist,
    /// Calendar days from a free-reader application to shipment under r2021 (4–5 months).
    pub free_reader_lead: Dist,
    /// A reception number received after the deadline (the 15th): seed 000 ※ says
    /// only "実施機関において個別対応する" (handled case by case). Which month it is
    /// registered for *(our choice: `next-month`)*.
    pub late_registration: LateRegistration,
    /// Extra business days the implementing body takes over a late number (個別対応)
    /// before the portal account opens *(our choice: 0)*.
    pub individual_handling: Dist,
}

/// How the implementing body handles a reception number that came after its deadline
/// (000 ※ "個別対応"). The seeds give no outcome; both are choices a scenario makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LateRegistration {
    /// Registered in the institution master from the month after the designation
    /// month: online confirmation cannot start on the designation day.
    NextMonth,
    /// Handled individually in time: registered for the designation month after
    /// `individual_handling` extra business days.
    DesignationMonth,
}

impl Default for ImplementingBodyParams {
    fn default() -> Self {
        ImplementingBodyParams {
            account_lead: fixed(4.0),
            temporary_code_lead: fixed(3.0),
            certificate_lead: Dist::Uniform { min: 2.0, max: 4.0 },
            mail: Dist::Uniform { min: 2.0, max: 4.0 },
            free_reader_lead: Dist::Uniform {
                min: 120.0,
                max: 150.0,
            },
            late_registration: LateRegistration::NextMonth,
            individual_handling: fixed(0.0),
        }
    }
}

/// The five face-auth reader models on the market (docs/DOMAIN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReaderModel {
    /// 富士通Japan Caora (FD-CAR1)
    FujitsuCaora,
    /// パナソニック コネクト
    Panasonic,
    /// アルメックス SnapIDタッチ (CP-S1000)
    AlmexSnapid,
    /// キヤノンMJ Hi-CARA (UF-S1000)
    CanonHicara,
    /// アトラス情報サービス EXC-9000
    AtlasExc9000,
    /// A generic card reader (資格確認限定型 only).
    Generic,
}

impl ReaderModel {
    /// Default delivery lead time in calendar days: 3–4 months for the face-auth
    /// models (guide), a week for a generic reader *(our choice)*.
    pub fn default_lead(self) -> Dist {
        match self {
            ReaderModel::Generic => Dist::Uniform {
                min: 5.0,
                max: 10.0,
            },
            _ => Dist::Triangular {
                min: 90.0,
                mode: 105.0,
                max: 120.0,
            },
        }
    }
}

/// 顔認証付きカードリーダーメーカー.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReaderVendorParams {
    pub model: ReaderModel,
    /// Calendar days from order to delivery (default: the model's).
    pub lead: Option<Dist>,
    /// Calendar days to replace a reader dead on arrival *(our choice: 14)*.
    pub replacement: Dist,
}

impl Default for ReaderVendorParams {
    fn default() -> Self {
        ReaderVendorParams {
            model: ReaderModel::FujitsuCaora,
            lead: None,
            replacement: fixed(14.0),
        }
    }
}

/// Line types the implementing body accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum LineType {
    #[serde(rename = "ip-vpn")]
    IpVpn,
    #[serde(rename = "ipsec-ike")]
    IpsecIke,
    /// A plain internet line: not on the connectable list.
    #[serde(rename = "internet")]
    Internet,
}

/// The default service: the first row of the connectable list.
pub const DEFAULT_SERVICE: &str = "NTT東日本 フレッツ 光ネクスト";

/// ネットワーク事業者.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CarrierParams {
    /// The service ordered, as on the connectable list.
    pub service: String,
    pub line: LineType,
    /// Calendar days from order to a working line *(our choice: 30–60)*.
    pub lead: Dist,
    /// A 光コラボレーション service: the guide says such services "利用可能な場合が
    /// ございます" (may be usable). Is this clinic's one of those? *(our choice: true)*
    pub hikari_collabo_available: bool,
    /// The clinic keeps a line it already has (既設回線): the guide's "※既設回線の場合、
    /// 上記4業者との追加契約が別途必要" — an extra contract with one of the four
    /// IPsec+IKE providers, so only for `line = "ipsec-ike"`; `extra_contract_lead`
    /// replaces `lead`.
    pub existing_line: bool,
    /// Calendar days to conclude that extra contract *(our choice: 14–30)*.
    pub extra_contract_lead: Dist,
}

impl Default for CarrierParams {
    fn default() -> Self {
        CarrierParams {
            service: DEFAULT_SERVICE.to_string(),
            line: LineType::IpVpn,
            lead: Dist::Uniform {
                min: 30.0,
                max: 60.0,
            },
            hikari_collabo_available: true,
            existing_line: false,
            extra_contract_lead: Dist::Uniform {
                min: 14.0,
                max: 30.0,
            },
        }
    }
}

impl CarrierParams {
    /// Is this service of this line type on the connectable list
    /// ([`super::lines::check`], matched by normalised name)?
    pub fn connectable(&self) -> bool {
        self.check().is_ok()
    }

    /// The row of the connectable list, or why the line cannot be used.
    pub fn check(&self) -> Result<&'static super::lines::ListedLine, super::lines::LineRefusal> {
        super::lines::check(&self.service, self.line, self.hikari_collabo_available)
    }
}

/// システム事業者.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SystemVendorParams {
    /// Business days between installation attempts when something was missing.
    pub retry_after: u32,
    /// Attempts before the vendor gives up.
    pub max_attempts: u32,
}

impl Default for SystemVendorParams {
    fn default() -> Self {
        SystemVendorParams {
            retry_after: 3,
            max_attempts: 30,
        }
    }
}
