//! The one place actor messages become JSON and back (issue 15 item 1).
//!
//! [`Msg`] and [`ActorId`] carry serde through this module: a message is a JSON
//! object tagged by its kind, in kebab-case, with snake_case field names:
//!
//! ```json
//! {"message": "reception-answer", "fee_table": "medical", "reception_number": "0110113719"}
//! ```
//!
//! That is the wire format the live services already used before the codec, so a
//! vendor's client sees no change: the same object is the body of
//! `POST /clinic/messages` (tagged with `message`), and, split into [`kind`] and
//! [`body`], an item of the clinic inbox (`{"kind": ..., "body": {...}}`) and the body
//! of the service routes (`POST /reception-requests {"fee_table": ...}`).
//!
//! Field formats: fee tables `medical`/`dental`/`pharmacy` (read also as 医科/歯科/薬局
//! or the code digit 1/3/4, as clients write them); dates `YYYY-MM-DD`; reception
//! numbers and temporary codes as their digit strings; a connectivity failure as its
//! text ([`ConnectivityFailure::as_str`]), `null` when the check passed. A plan step
//! (the clinic's own timer, never on the wire between parties) is
//! `{"message": "step", "step": KIND}`; a prerequisite is
//! `{"message": "prerequisite-ready", "prerequisite": KIND}`.
//!
//! Fields the reader does not know are ignored (an inbox item carries extras such as
//! a `reason` or the issued certificate); the HTTP services refuse unknown fields
//! before decoding. A decoding error names the field ([`CodecError::field`]).
//!
//! The conversion goes through a private mirror of [`Msg`] (`Wire`), so the
//! message enum keeps its shape for the actors; both matches are exhaustive, so a new
//! message does not compile until it has a wire form.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{CheckPurpose, ConnectivityFailure, Msg, Prerequisite, Step};
use crate::codes::{FeeTable, ReceptionNumber, TemporaryCode};

/// The tag naming a message's kind in its JSON object.
pub const TAG: &str = "message";

/// A message that does not decode, with the field at fault where one is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CodecError {
    /// The offending field (`message` for an unknown kind), when known.
    pub field: Option<String>,
    pub message: String,
}

/// The message as a JSON object: `{"message": KIND, FIELD: VALUE, ...}`.
pub fn to_json(msg: &Msg) -> Map<String, Value> {
    match serde_json::to_value(Wire::from(msg.clone())) {
        Ok(Value::Object(m)) => m,
        // `Wire` is an internally tagged enum of structs and units: always an object.
        other => unreachable!("a message encodes as an object, not {other:?}"),
    }
}

/// The message's kind, e.g. `reception-answer` (the `message` tag, the inbox `kind`).
pub fn kind(msg: &Msg) -> &'static str {
    wire_kind(&Wire::from(msg.clone()))
}

/// The message's fields without the tag (an inbox item's `body`, a service route's
/// request body).
pub fn body(msg: &Msg) -> Map<String, Value> {
    let mut m = to_json(msg);
    m.remove(TAG);
    m
}

/// Read a message from its tagged JSON object.
pub fn from_json(v: &Map<String, Value>) -> Result<Msg, CodecError> {
    match serde_json::from_value::<Wire>(Value::Object(v.clone())) {
        Ok(w) => Ok(Msg::from(w)),
        Err(e) => Err(error_of(e, v)),
    }
}

/// Read a message of kind `kind` from its fields (an inbox item, a route's body).
pub fn from_body(kind: &str, body: &Map<String, Value>) -> Result<Msg, CodecError> {
    let mut m = body.clone();
    m.insert(TAG.into(), Value::String(kind.into()));
    from_json(&m)
}

/// Parse a fee table as clients write it: `medical`/`dental`/`pharmacy`, 医科/歯科/薬局,
/// or the code digit 1/3/4.
pub fn parse_fee(s: &str) -> Option<FeeTable> {
    match s.trim() {
        "medical" | "医科" | "1" => Some(FeeTable::Medical),
        "dental" | "歯科" | "3" => Some(FeeTable::Dental),
        "pharmacy" | "薬局" | "4" => Some(FeeTable::Pharmacy),
        _ => None,
    }
}

/// A fee table's wire name (`medical`, `dental`, `pharmacy`).
pub fn fee_name(f: FeeTable) -> &'static str {
    match f {
        FeeTable::Medical => "medical",
        FeeTable::Dental => "dental",
        FeeTable::Pharmacy => "pharmacy",
    }
}

/// The field a serde error names, or else the top-level key without which the
/// object decodes (or fails only for that key missing): serde names no field for a
/// bad value.
fn error_of(e: serde_json::Error, v: &Map<String, Value>) -> CodecError {
    let message = e.to_string();
    // An unknown variant is the key holding it: the tag, a nested tag (`step`,
    // `prerequisite`) or an enum field (`purpose`).
    let variant = message
        .strip_prefix("unknown variant `")
        .and_then(|r| r.split('`').next());
    let named = named_field(&message).or_else(|| {
        let x = variant?;
        let holds = |k: &str| v.get(k).and_then(Value::as_str) == Some(x);
        if holds(TAG) {
            return Some(TAG.to_string());
        }
        v.keys().find(|k| holds(k)).cloned()
    });
    let field = named.or_else(|| {
        v.keys()
            .filter(|k| k.as_str() != TAG)
            .find(|k| {
                let mut without = v.clone();
                without.remove(k.as_str());
                match serde_json::from_value::<Wire>(Value::Object(without)) {
                    Ok(_) => true,
                    Err(e) => e.to_string().contains(&format!("missing field `{k}`")),
                }
            })
            .cloned()
    });
    CodecError { field, message }
}

fn named_field(msg: &str) -> Option<String> {
    let start = msg.find("field `")? + "field `".len();
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

/// The wire mirror of [`Msg`]: field names as the services spell them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "kebab-case")]
enum Wire {
    Step(WireStep),
    ReceptionRequest {
        /// Absent: medical (the services' default).
        #[serde(with = "fee", default = "medical")]
        fee_table: FeeTable,
    },
    DesignationApplication {
        complete: bool,
    },
    ReceptionAnswer {
        #[serde(with = "fee")]
        fee_table: FeeTable,
        reception_number: ReceptionNumber,
    },
    RequestReturned {
        #[serde(with = "fee")]
        fee_table: FeeTable,
    },
    CorrectionRequest,
    DesignationApplicationAccepted,
    Designated {
        date: NaiveDate,
    },
    NotDesignated,
    CouncilDecision,
    CodesSent,
    TemporaryCodeRequest,
    ReaderApplication,
    ReceptionNumberSubmission {
        reception_number: ReceptionNumber,
    },
    UsageApplication,
    CertificateApplication {
        /// Absent: medical (the services' default).
        #[serde(with = "fee", default = "medical")]
        fee_table: FeeTable,
    },
    LimitedTypeApplication {
        postal: bool,
    },
    TemporaryCodeIssued {
        code: TemporaryCode,
    },
    AccountReady {
        registered_for: NaiveDate,
    },
    CertificateNotice {
        #[serde(with = "fee")]
        fee_table: FeeTable,
        delayed: bool,
    },
    LimitedTypeApproved,
    ReaderOrder {
        /// Absent: a first order, not a replacement.
        #[serde(default)]
        replacement: bool,
    },
    ReaderDelivered {
        working: bool,
    },
    LineOrder,
    LineReady,
    LineRejected,
    SystemOrder {
        installation: NaiveDate,
    },
    PrerequisiteReady(WirePrerequisite),
    InstallationDay,
    ConnectivityCheck {
        purpose: CheckPurpose,
    },
    ConnectivityResult {
        purpose: CheckPurpose,
        #[serde(with = "failure", default)]
        failure: Option<ConnectivityFailure>,
    },
    InstallationDone,
    InstallationPostponed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
enum WireStep {
    TemporaryCodeRequest,
    ReaderOrder,
    NetworkOrder,
    SystemVendorOrder,
    ReceptionRequest,
    SubmitReceptionNumber { reception_number: ReceptionNumber },
    Applications,
    DesignationApplication,
    GoLive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "prerequisite", rename_all = "kebab-case")]
enum WirePrerequisite {
    Reader,
    Line,
    CertificateNotice {
        #[serde(with = "fee")]
        fee_table: FeeTable,
    },
    PortalAccount,
}

fn medical() -> FeeTable {
    FeeTable::Medical
}

fn wire_kind(w: &Wire) -> &'static str {
    match w {
        Wire::Step(_) => "step",
        Wire::ReceptionRequest { .. } => "reception-request",
        Wire::DesignationApplication { .. } => "designation-application",
        Wire::ReceptionAnswer { .. } => "reception-answer",
        Wire::RequestReturned { .. } => "request-returned",
        Wire::CorrectionRequest => "correction-request",
        Wire::DesignationApplicationAccepted => "designation-application-accepted",
        Wire::Designated { .. } => "designated",
        Wire::NotDesignated => "not-designated",
        Wire::CouncilDecision => "council-decision",
        Wire::CodesSent => "codes-sent",
        Wire::TemporaryCodeRequest => "temporary-code-request",
        Wire::ReaderApplication => "reader-application",
        Wire::ReceptionNumberSubmission { .. } => "reception-number-submission",
        Wire::UsageApplication => "usage-application",
        Wire::CertificateApplication { .. } => "certificate-application",
        Wire::LimitedTypeApplication { .. } => "limited-type-application",
        Wire::TemporaryCodeIssued { .. } => "temporary-code-issued",
        Wire::AccountReady { .. } => "account-ready",
        Wire::CertificateNotice { .. } => "certificate-notice",
        Wire::LimitedTypeApproved => "limited-type-approved",
        Wire::ReaderOrder { .. } => "reader-order",
        Wire::ReaderDelivered { .. } => "reader-delivered",
        Wire::LineOrder => "line-order",
        Wire::LineReady => "line-ready",
        Wire::LineRejected => "line-rejected",
        Wire::SystemOrder { .. } => "system-order",
        Wire::PrerequisiteReady(_) => "prerequisite-ready",
        Wire::InstallationDay => "installation-day",
        Wire::ConnectivityCheck { .. } => "connectivity-check",
        Wire::ConnectivityResult { .. } => "connectivity-result",
        Wire::InstallationDone => "installation-done",
        Wire::InstallationPostponed => "installation-postponed",
    }
}

impl From<Msg> for Wire {
    fn from(m: Msg) -> Wire {
        match m {
            Msg::Step(s) => Wire::Step(match s {
                Step::TemporaryCodeRequest => WireStep::TemporaryCodeRequest,
                Step::ReaderOrder => WireStep::ReaderOrder,
                Step::NetworkOrder => WireStep::NetworkOrder,
                Step::SystemVendorOrder => WireStep::SystemVendorOrder,
                Step::ReceptionRequest => WireStep::ReceptionRequest,
                Step::SubmitReceptionNumber(n) => WireStep::SubmitReceptionNumber {
                    reception_number: n,
                },
                Step::Applications => WireStep::Applications,
                Step::DesignationApplication => WireStep::DesignationApplication,
                Step::GoLive => WireStep::GoLive,
            }),
            Msg::ReceptionRequest { fee } => Wire::ReceptionRequest { fee_table: fee },
            Msg::DesignationApplication { complete } => Wire::DesignationApplication { complete },
            Msg::ReceptionAnswer { fee, number } => Wire::ReceptionAnswer {
                fee_table: fee,
                reception_number: number,
            },
            Msg::RequestReturned { fee } => Wire::RequestReturned { fee_table: fee },
            Msg::CorrectionRequest => Wire::CorrectionRequest,
            Msg::DesignationApplicationAccepted => Wire::DesignationApplicationAccepted,
            Msg::Designated { date } => Wire::Designated { date },
            Msg::NotDesignated => Wire::NotDesignated,
            Msg::CouncilDecision => Wire::CouncilDecision,
            Msg::CodesSent => Wire::CodesSent,
            Msg::TemporaryCodeRequest => Wire::TemporaryCodeRequest,
            Msg::ReaderApplication => Wire::ReaderApplication,
            Msg::ReceptionNumberSubmission { number } => Wire::ReceptionNumberSubmission {
                reception_number: number,
            },
            Msg::UsageApplication => Wire::UsageApplication,
            Msg::CertificateApplication { fee } => Wire::CertificateApplication { fee_table: fee },
            Msg::LimitedTypeApplication { postal } => Wire::LimitedTypeApplication { postal },
            Msg::TemporaryCodeIssued { code } => Wire::TemporaryCodeIssued { code },
            Msg::AccountReady { registered_for } => Wire::AccountReady { registered_for },
            Msg::CertificateNotice { fee, delayed } => Wire::CertificateNotice {
                fee_table: fee,
                delayed,
            },
            Msg::LimitedTypeApproved => Wire::LimitedTypeApproved,
            Msg::ReaderOrder { replacement } => Wire::ReaderOrder { replacement },
            Msg::ReaderDelivered { working } => Wire::ReaderDelivered { working },
            Msg::LineOrder => Wire::LineOrder,
            Msg::LineReady => Wire::LineReady,
            Msg::LineRejected => Wire::LineRejected,
            Msg::SystemOrder { installation } => Wire::SystemOrder { installation },
            Msg::PrerequisiteReady(p) => Wire::PrerequisiteReady(match p {
                Prerequisite::Reader => WirePrerequisite::Reader,
                Prerequisite::Line => WirePrerequisite::Line,
                Prerequisite::CertificateNotice(f) => {
                    WirePrerequisite::CertificateNotice { fee_table: f }
                }
                Prerequisite::PortalAccount => WirePrerequisite::PortalAccount,
            }),
            Msg::InstallationDay => Wire::InstallationDay,
            Msg::ConnectivityCheck { purpose } => Wire::ConnectivityCheck { purpose },
            Msg::ConnectivityResult { purpose, failure } => {
                Wire::ConnectivityResult { purpose, failure }
            }
            Msg::InstallationDone => Wire::InstallationDone,
            Msg::InstallationPostponed => Wire::InstallationPostponed,
        }
    }
}

impl From<Wire> for Msg {
    fn from(w: Wire) -> Msg {
        match w {
            Wire::Step(s) => Msg::Step(match s {
                WireStep::TemporaryCodeRequest => Step::TemporaryCodeRequest,
                WireStep::ReaderOrder => Step::ReaderOrder,
                WireStep::NetworkOrder => Step::NetworkOrder,
                WireStep::SystemVendorOrder => Step::SystemVendorOrder,
                WireStep::ReceptionRequest => Step::ReceptionRequest,
                WireStep::SubmitReceptionNumber { reception_number } => {
                    Step::SubmitReceptionNumber(reception_number)
                }
                WireStep::Applications => Step::Applications,
                WireStep::DesignationApplication => Step::DesignationApplication,
                WireStep::GoLive => Step::GoLive,
            }),
            Wire::ReceptionRequest { fee_table } => Msg::ReceptionRequest { fee: fee_table },
            Wire::DesignationApplication { complete } => Msg::DesignationApplication { complete },
            Wire::ReceptionAnswer {
                fee_table,
                reception_number,
            } => Msg::ReceptionAnswer {
                fee: fee_table,
                number: reception_number,
            },
            Wire::RequestReturned { fee_table } => Msg::RequestReturned { fee: fee_table },
            Wire::CorrectionRequest => Msg::CorrectionRequest,
            Wire::DesignationApplicationAccepted => Msg::DesignationApplicationAccepted,
            Wire::Designated { date } => Msg::Designated { date },
            Wire::NotDesignated => Msg::NotDesignated,
            Wire::CouncilDecision => Msg::CouncilDecision,
            Wire::CodesSent => Msg::CodesSent,
            Wire::TemporaryCodeRequest => Msg::TemporaryCodeRequest,
            Wire::ReaderApplication => Msg::ReaderApplication,
            Wire::ReceptionNumberSubmission { reception_number } => {
                Msg::ReceptionNumberSubmission {
                    number: reception_number,
                }
            }
            Wire::UsageApplication => Msg::UsageApplication,
            Wire::CertificateApplication { fee_table } => {
                Msg::CertificateApplication { fee: fee_table }
            }
            Wire::LimitedTypeApplication { postal } => Msg::LimitedTypeApplication { postal },
            Wire::TemporaryCodeIssued { code } => Msg::TemporaryCodeIssued { code },
            Wire::AccountReady { registered_for } => Msg::AccountReady { registered_for },
            Wire::CertificateNotice { fee_table, delayed } => Msg::CertificateNotice {
                fee: fee_table,
                delayed,
            },
            Wire::LimitedTypeApproved => Msg::LimitedTypeApproved,
            Wire::ReaderOrder { replacement } => Msg::ReaderOrder { replacement },
            Wire::ReaderDelivered { working } => Msg::ReaderDelivered { working },
            Wire::LineOrder => Msg::LineOrder,
            Wire::LineReady => Msg::LineReady,
            Wire::LineRejected => Msg::LineRejected,
            Wire::SystemOrder { installation } => Msg::SystemOrder { installation },
            Wire::PrerequisiteReady(p) => Msg::PrerequisiteReady(match p {
                WirePrerequisite::Reader => Prerequisite::Reader,
                WirePrerequisite::Line => Prerequisite::Line,
                WirePrerequisite::CertificateNotice { fee_table } => {
                    Prerequisite::CertificateNotice(fee_table)
                }
                WirePrerequisite::PortalAccount => Prerequisite::PortalAccount,
            }),
            Wire::InstallationDay => Msg::InstallationDay,
            Wire::ConnectivityCheck { purpose } => Msg::ConnectivityCheck { purpose },
            Wire::ConnectivityResult { purpose, failure } => {
                Msg::ConnectivityResult { purpose, failure }
            }
            Wire::InstallationDone => Msg::InstallationDone,
            Wire::InstallationPostponed => Msg::InstallationPostponed,
        }
    }
}

impl Serialize for Msg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire::from(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Msg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Wire::deserialize(d).map(Msg::from)
    }
}

/// A fee table: written by its wire name, read leniently ([`parse_fee`]).
mod fee {
    use super::*;

    pub fn serialize<S: Serializer>(f: &FeeTable, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(fee_name(*f))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FeeTable, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => parse_fee(&s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown fee_table {s:?}; expected medical, dental or pharmacy"
                ))
            }),
            _ => Err(serde::de::Error::custom("fee_table must be a string")),
        }
    }
}

/// A connectivity failure: written as its text, `null` for none; read back from the
/// text or the kebab-case id.
mod failure {
    use super::*;

    pub fn serialize<S: Serializer>(
        f: &Option<ConnectivityFailure>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match f {
            Some(f) => s.serialize_str(f.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<ConnectivityFailure>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        ConnectivityFailure::ALL
            .into_iter()
            .find(|c| {
                c.as_str() == text
                    || serde_json::to_value(c)
                        .ok()
                        .as_ref()
                        .and_then(Value::as_str)
                        == Some(text.as_str())
            })
            .map(Some)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("unknown connectivity failure {text:?}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{InstitutionCode, Prefecture};
    use crate::process::ActorId;
    use proptest::prelude::*;
    use serde_json::json;

    fn fee_s() -> impl Strategy<Value = FeeTable> {
        prop_oneof![
            Just(FeeTable::Medical),
            Just(FeeTable::Dental),
            Just(FeeTable::Pharmacy)
        ]
    }

    fn number_s() -> impl Strategy<Value = ReceptionNumber> {
        (1u8..=47, fee_s(), 0u8..=99, 0u16..=9999).prop_map(|(p, f, c, n)| {
            ReceptionNumber(
                InstitutionCode::new(Prefecture::new(p).expect("1..=47"), f, c, n)
                    .expect("in range"),
            )
        })
    }

    fn date_s() -> impl Strategy<Value = NaiveDate> {
        (0i64..40_000).prop_map(|d| {
            NaiveDate::from_ymd_opt(1990, 1, 1).expect("date") + chrono::Duration::days(d)
        })
    }

    fn purpose_s() -> impl Strategy<Value = CheckPurpose> {
        prop_oneof![Just(CheckPurpose::Installation), Just(CheckPurpose::GoLive)]
    }

    fn step_s() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::TemporaryCodeRequest),
            Just(Step::ReaderOrder),
            Just(Step::NetworkOrder),
            Just(Step::SystemVendorOrder),
            Just(Step::ReceptionRequest),
            number_s().prop_map(Step::SubmitReceptionNumber),
            Just(Step::Applications),
            Just(Step::DesignationApplication),
            Just(Step::GoLive),
        ]
    }

    fn prerequisite_s() -> impl Strategy<Value = Prerequisite> {
        prop_oneof![
            Just(Prerequisite::Reader),
            Just(Prerequisite::Line),
            fee_s().prop_map(Prerequisite::CertificateNotice),
            Just(Prerequisite::PortalAccount),
        ]
    }

    /// Every variant of [`Msg`] with arbitrary fields.
    fn msg_s() -> impl Strategy<Value = Msg> {
        let failure =
            proptest::option::of(proptest::sample::select(ConnectivityFailure::ALL.to_vec()));
        prop_oneof![
            step_s().prop_map(Msg::Step),
            fee_s().prop_map(|fee| Msg::ReceptionRequest { fee }),
            any::<bool>().prop_map(|complete| Msg::DesignationApplication { complete }),
            (fee_s(), number_s()).prop_map(|(fee, number)| Msg::ReceptionAnswer { fee, number }),
            fee_s().prop_map(|fee| Msg::RequestReturned { fee }),
            Just(Msg::CorrectionRequest),
            Just(Msg::DesignationApplicationAccepted),
            date_s().prop_map(|date| Msg::Designated { date }),
            Just(Msg::NotDesignated),
            Just(Msg::CouncilDecision),
            Just(Msg::CodesSent),
            Just(Msg::TemporaryCodeRequest),
            Just(Msg::ReaderApplication),
            number_s().prop_map(|number| Msg::ReceptionNumberSubmission { number }),
            Just(Msg::UsageApplication),
            fee_s().prop_map(|fee| Msg::CertificateApplication { fee }),
            any::<bool>().prop_map(|postal| Msg::LimitedTypeApplication { postal }),
            (0u32..=TemporaryCode::MAX_SERIAL).prop_map(|s| Msg::TemporaryCodeIssued {
                code: TemporaryCode::new(s).expect("in range")
            }),
            date_s().prop_map(|registered_for| Msg::AccountReady { registered_for }),
            (fee_s(), any::<bool>())
                .prop_map(|(fee, delayed)| Msg::CertificateNotice { fee, delayed }),
            Just(Msg::LimitedTypeApproved),
            any::<bool>().prop_map(|replacement| Msg::ReaderOrder { replacement }),
            any::<bool>().prop_map(|working| Msg::ReaderDelivered { working }),
            Just(Msg::LineOrder),
            Just(Msg::LineReady),
            Just(Msg::LineRejected),
            date_s().prop_map(|installation| Msg::SystemOrder { installation }),
            prerequisite_s().prop_map(Msg::PrerequisiteReady),
            Just(Msg::InstallationDay),
            purpose_s().prop_map(|purpose| Msg::ConnectivityCheck { purpose }),
            (purpose_s(), failure)
                .prop_map(|(purpose, failure)| Msg::ConnectivityResult { purpose, failure }),
            Just(Msg::InstallationDone),
            Just(Msg::InstallationPostponed),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(m in msg_s()) {
            let j = to_json(&m);
            prop_assert_eq!(j.get(TAG).and_then(Value::as_str), Some(kind(&m)));
            prop_assert_eq!(from_json(&j), Ok(m.clone()));
            prop_assert_eq!(from_body(kind(&m), &body(&m)), Ok(m.clone()));
            // Through text too, as it travels.
            let text = serde_json::to_string(&m).expect("encodes");
            prop_assert_eq!(serde_json::from_str::<Msg>(&text).expect("decodes"), m);
        }
    }

    #[test]
    fn the_live_wire_format_is_kept() {
        let n: ReceptionNumber = "0110113719".parse().expect("valid");
        assert_eq!(
            Value::Object(to_json(&Msg::ReceptionAnswer {
                fee: FeeTable::Medical,
                number: n
            })),
            json!({"message": "reception-answer", "fee_table": "medical", "reception_number": "0110113719"})
        );
        assert_eq!(
            Value::Object(body(&Msg::ConnectivityResult {
                purpose: CheckPurpose::GoLive,
                failure: Some(ConnectivityFailure::CarrierOutage)
            })),
            json!({"purpose": "go-live", "failure": "carrier outage"})
        );
        assert_eq!(
            Value::Object(to_json(&Msg::PrerequisiteReady(
                Prerequisite::CertificateNotice(FeeTable::Dental)
            ))),
            json!({"message": "prerequisite-ready", "prerequisite": "certificate-notice", "fee_table": "dental"})
        );
        assert_eq!(
            Value::Object(to_json(&Msg::SystemOrder {
                installation: NaiveDate::from_ymd_opt(2025, 6, 2).expect("date")
            })),
            json!({"message": "system-order", "installation": "2025-06-02"})
        );
        assert_eq!(
            Value::Object(body(&Msg::AccountReady {
                registered_for: NaiveDate::from_ymd_opt(2025, 6, 1).expect("date")
            })),
            json!({"registered_for": "2025-06-01"})
        );
        assert_eq!(
            serde_json::to_value(ActorId::ImplementingBody).ok(),
            Some(json!("implementing-body"))
        );
        assert_eq!(
            serde_json::from_value::<ActorId>(json!("reader-vendor")).ok(),
            Some(ActorId::ReaderVendor)
        );
    }

    #[test]
    fn clients_spellings_and_defaults_are_read() {
        let m = |v: Value| v.as_object().cloned().expect("object");
        assert_eq!(
            from_body("reception-request", &m(json!({"fee_table": "歯科"}))),
            Ok(Msg::ReceptionRequest {
                fee: FeeTable::Dental
            })
        );
        assert_eq!(
            from_body("reception-request", &m(json!({}))),
            Ok(Msg::ReceptionRequest {
                fee: FeeTable::Medical
            })
        );
        assert_eq!(
            from_body("reader-order", &m(json!({"model": "x"}))),
            Ok(Msg::ReaderOrder { replacement: false })
        );
        // Extras of an inbox item are ignored.
        assert_eq!(
            from_body("line-rejected", &m(json!({"reason": "not connectable"}))),
            Ok(Msg::LineRejected)
        );
        assert_eq!(
            from_body(
                "connectivity-result",
                &m(json!({"purpose": "installation", "ok": true, "failure": null}))
            ),
            Ok(Msg::ConnectivityResult {
                purpose: CheckPurpose::Installation,
                failure: None
            })
        );
    }

    #[test]
    fn errors_name_the_field() {
        let m = |v: Value| v.as_object().cloned().expect("object");
        let e = from_body("reception-request", &m(json!({"fee_table": "vet"}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("fee_table"), "{e}");
        assert!(
            e.message.contains("expected medical, dental or pharmacy"),
            "{e}"
        );
        let e = from_body("reception-request", &m(json!({"fee_table": 7}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("fee_table"), "{e}");
        let e = from_body("system-order", &m(json!({}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("installation"), "{e}");
        let e = from_body("system-order", &m(json!({"installation": "June"}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("installation"), "{e}");
        let e = from_body("launch-rocket", &m(json!({}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("message"), "{e}");
        let e = from_json(&m(json!({"fee_table": "medical"}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("message"), "{e}");
        let e = from_body("connectivity-check", &m(json!({"purpose": "fun"}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("purpose"), "{e}");
        let e = from_body("prerequisite-ready", &m(json!({"prerequisite": "cake"}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("prerequisite"), "{e}");
        let e = from_body("prerequisite-ready", &m(json!({}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("prerequisite"), "{e}");
    }
}
