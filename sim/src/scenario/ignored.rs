//! Faults and parameters a scenario's rule set or clinic would ignore. A run never
//! ignores what the user wrote silently: each such key is refused with the field and
//! the reason (exit code 2), asking the rule set's capabilities
//! (`fakes::schedule::Rules`) rather than its name.

use fakes::process::fault::{FaultKind, FaultStep};
use fakes::schedule::ClinicKind;

use super::{Claims, ScenarioFile};

/// One refused key: where it is (TOML path), what is wrong, what to do instead.
pub(super) struct Ignored {
    pub path: Vec<PathKey>,
    pub message: String,
    pub hint: String,
}

/// A part of a TOML path.
#[derive(Debug, Clone)]
pub(super) enum PathKey {
    Key(&'static str),
    Index(usize),
}

/// What the clinic of this scenario goes through, from its rule set and its
/// `[clinic]` section.
struct Shape {
    /// Reader, line, terminal, certificates (not paper claims, limited type or 経過措置).
    full_installation: bool,
    /// The clinic orders a reader from a vendor (otherwise none, or the implementing
    /// body's free reader).
    vendor_reader: bool,
    /// The implementing body ships the free reader (r2021).
    free_reader: bool,
    /// The designation application carries an onboarding plan that can be incomplete.
    plan: bool,
}

fn shape(spec: &ScenarioFile) -> Shape {
    let rules = spec.scenario.rules.rules();
    let limited = spec.clinic.limited_type;
    let transitional = spec.plan.transitional_notice;
    let full_installation = spec.clinic.claims == Claims::Online && !limited && !transitional;
    let free_reader = rules.implementing_body_supplies_reader() && full_installation;
    Shape {
        full_installation,
        vendor_reader: limited || (full_installation && !free_reader),
        free_reader,
        plan: rules.has_onboarding_plan() && !transitional,
    }
}

/// Why a fault of this kind (tied to `step`, if any) cannot bite in this scenario.
fn fault_ignored(
    spec: &ScenarioFile,
    sh: &Shape,
    kind: FaultKind,
    step: Option<FaultStep>,
) -> Option<(String, String)> {
    use FaultKind::*;
    let rules = spec.scenario.rules;
    let who = if spec.clinic.limited_type {
        "a limited-type (資格確認限定型) clinic"
    } else if spec.plan.transitional_notice {
        "a clinic under the 経過措置"
    } else {
        "a paper-claims clinic"
    };
    match kind {
        LateRequest
        | BureauAnswerDelay
        | LateReceptionSubmission
        | PlanIncomplete
        | DesignationRefused
        | SingleRequest
            if spec.clinic.limited_type =>
        {
            Some((
                "a limited-type (資格確認限定型) clinic is an existing institution (004): it files no reception-number request and no designation application, so this fault never bites".into(),
                "drop the fault (the limited type's own steps: plan.applications, plan.reader_order)".into(),
            ))
        }
        LineNotConnectable
        | CarrierOutage
        | LateCertificateApplication
        | CertificateNoticeLost
        | CertificateNoticeDelay
        | ClientCertificate
        | Card
            if !sh.full_installation =>
        {
            Some((
                format!("{who} has no line, terminal or client certificate, so this fault never bites"),
                "drop the fault, or make the clinic a full installation (claims = \"online\")".into(),
            ))
        }
        ImplementingBodyDown if step.is_some() && !sh.full_installation => Some((
            format!("{who} makes no connectivity check, so a step-bound outage never bites"),
            "give the outage a window (`at`, `until`) instead of `on`".into(),
        )),
        ReaderDelay if sh.free_reader => Some((
            format!("under {rules} the implementing body ships the free reader; reader-delay is a vendor's delay"),
            "set actors.implementing_body.free_reader_lead instead".into(),
        )),
        ReaderDelay | ReaderDoa if !sh.vendor_reader && !sh.free_reader => Some((
            format!("{who} gets no face-auth reader, so this fault never bites"),
            "drop the fault".into(),
        )),
        PlanIncomplete if !sh.plan => Some((
            if spec.plan.transitional_notice {
                "the onboarding plan is waived for a clinic that files the 経過措置 届出 (001 第2 \"この限りでない\")".to_string()
            } else {
                format!("{rules} has no onboarding plan (導入計画書) to be incomplete")
            },
            "drop the fault".into(),
        )),
        SingleRequest
            if spec.clinic.kind != ClinicKind::MedicalDental
                || spec.plan.reception_requests == Some(1) =>
        {
            Some((
                "single-request needs a medical+dental clinic that plans two requests".into(),
                "use kind = \"medical-dental\" (and no plan.reception_requests = 1), or drop the fault".into(),
            ))
        }
        _ => None,
    }
}

/// The first fault or parameter of `spec` that the run would ignore, if any.
/// `present` says whether a TOML path was written in the file (defaults are fine).
pub(super) fn first_ignored(
    spec: &ScenarioFile,
    present: &dyn Fn(&[PathKey]) -> bool,
) -> Option<Ignored> {
    use PathKey::{Index, Key};
    let sh = shape(spec);
    let rules = spec.scenario.rules;
    for (i, f) in spec.faults.iter().enumerate() {
        if let Some((message, hint)) = fault_ignored(spec, &sh, f.kind, f.on) {
            return Some(Ignored {
                path: vec![Key("faults"), Index(i), Key("kind")],
                message: format!("faults[{i}] ({}): {message}", f.kind.as_str()),
                hint,
            });
        }
    }
    let r = rules.rules();
    // (path, used?, why not, hint)
    let carrier = &spec.actors.carrier;
    let collabo = fakes::process::lines::find(&carrier.service).is_some_and(|l| l.conditional);
    let limited = spec.clinic.limited_type;
    let existing = "a limited-type (資格確認限定型) clinic is an existing institution (004): it files no reception-number request and no designation application";
    let params: [(&[PathKey], bool, String, &str); 19] = [
        (
            &[Key("actors"), Key("bureau")],
            !limited,
            existing.into(),
            "drop the section",
        ),
        (
            &[Key("plan"), Key("reception_request")],
            !limited,
            existing.into(),
            "drop plan.reception_request (the limited type applies on plan.applications)",
        ),
        (
            &[Key("plan"), Key("reception_requests")],
            !limited,
            existing.into(),
            "drop plan.reception_requests",
        ),
        (
            &[Key("plan"), Key("submit_after")],
            !limited,
            existing.into(),
            "drop plan.submit_after (a late application: set plan.applications)",
        ),
        (
            &[Key("plan"), Key("designation_application")],
            !limited,
            existing.into(),
            "drop plan.designation_application",
        ),
        (
            &[Key("actors"), Key("bureau"), Key("neighbour")],
            r.not_designated_deletes_record(),
            format!("under {rules} a clinic not designated keeps its record (a status), so no number is handed out again"),
            "drop it, or set rules = \"r2021\"",
        ),
        (
            &[Key("actors"), Key("carrier"), Key("extra_contract_lead")],
            carrier.existing_line,
            "extra_contract_lead is the 既設回線 extra contract's lead time; this clinic orders a new line".into(),
            "set existing_line = true, or drop extra_contract_lead",
        ),
        (
            &[Key("actors"), Key("carrier"), Key("hikari_collabo_available")],
            collabo,
            format!("hikari_collabo_available decides only a 光コラボレーション service; {:?} is not one", carrier.service),
            "drop it, or order service = \"光コラボレーション事業者\"",
        ),
        (
            &[Key("actors"), Key("reader_vendor")],
            sh.vendor_reader,
            if sh.free_reader {
                format!("under {rules} the implementing body supplies the reader; [actors.reader_vendor] is never asked")
            } else {
                "this clinic orders no face-auth reader; [actors.reader_vendor] is never asked".into()
            },
            "drop the section (r2021 free readers: actors.implementing_body.free_reader_lead)",
        ),
        (
            &[Key("actors"), Key("implementing_body"), Key("free_reader_lead")],
            sh.free_reader,
            format!("free_reader_lead applies only where the implementing body ships the reader (r2021, full installation); this is {rules}"),
            "drop it, or use [actors.reader_vendor] lead",
        ),
        (
            &[Key("actors"), Key("implementing_body"), Key("temporary_code_lead")],
            r.has_temporary_code(),
            format!("{rules} has no temporary code (仮コード)"),
            "drop it, or set rules = \"r2021\"",
        ),
        (
            &[Key("actors"), Key("bureau"), Key("correction_turnaround")],
            sh.plan,
            "no onboarding plan is filed here, so the bureau never asks for a correction (補正)".into(),
            "drop it",
        ),
        (
            &[Key("actors"), Key("carrier")],
            sh.full_installation,
            "this clinic orders no line; [actors.carrier] is never asked".into(),
            "drop the section",
        ),
        (
            &[Key("actors"), Key("system_vendor")],
            sh.full_installation,
            "this clinic has no system installation; [actors.system_vendor] is never asked".into(),
            "drop the section",
        ),
        (
            &[Key("plan"), Key("reader_order")],
            sh.vendor_reader,
            if sh.free_reader {
                format!("under {rules} the reader is applied for with the temporary code (plan.temporary_code_request), not ordered")
            } else {
                "this clinic orders no reader".into()
            },
            "drop plan.reader_order",
        ),
        (
            &[Key("plan"), Key("network_order")],
            sh.full_installation,
            "this clinic orders no line".into(),
            "drop plan.network_order",
        ),
        (
            &[Key("plan"), Key("system_vendor_order")],
            sh.full_installation,
            "this clinic has no system installation".into(),
            "drop plan.system_vendor_order",
        ),
        (
            &[Key("plan"), Key("installation")],
            sh.full_installation,
            "this clinic has no system installation".into(),
            "drop plan.installation",
        ),
        (
            &[Key("plan"), Key("designation_application")],
            !r.request_travels_with_application(),
            format!("under {rules} the designation application travels with the reception-number request (plan.reception_request)"),
            "drop plan.designation_application, or set rules = \"r2024\"",
        ),
    ];
    for (path, used, why, hint) in params {
        if !used && present(path) {
            let name = path
                .iter()
                .map(|p| match p {
                    Key(k) => (*k).to_string(),
                    Index(i) => i.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".");
            return Some(Ignored {
                path: path.to_vec(),
                message: format!("{name} would be ignored: {why}"),
                hint: hint.to_string(),
            });
        }
    }
    None
}
