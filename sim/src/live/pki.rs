//! The certificates of a live run: the fakes' server CA and the eligibility server's
//! certificate, the implementing body's terminal CA with its CRL, and the test matrix
//! of terminal client credentials written to `DIR/pki/`.
//!
//! Every certificate comes from [`fakes::pki`] and is a pure function of the seed and
//! the start date, so two runs with the same flags write the same files.
//!
//! Dates: the **client** certificates are judged on the virtual clock (that is what
//! the matrix exercises). The **server** certificate is judged by the client on its
//! own wall clock (curl cannot be told otherwise), so it is valid 2020–2049 whatever
//! the virtual date.

use chrono::{Days, Months, NaiveDate};

use fakes::codes::InstitutionCode;
use fakes::pki::{Authority, CertSpec, Issued, PkiError, Revocation, Verifier};

/// The credential names of the matrix, in the order they are written.
pub const MATRIX: [&str; 6] = [
    "valid",
    "expired",
    "not-yet-valid",
    "revoked",
    "wrong-ca",
    "other-institution",
];

/// The refusal code ([`fakes::pki::Refusal::code`]) each credential of the matrix
/// must get; `None` for `valid`.
pub fn expected_refusal(name: &str) -> Option<&'static str> {
    match name {
        "expired" => Some("expired"),
        "not-yet-valid" => Some("not-yet-valid"),
        "revoked" => Some("revoked"),
        "wrong-ca" => Some("unknown-ca"),
        "other-institution" => Some("other-institution"),
        _ => None,
    }
}

/// Wall-clock validity of the fakes' server CA and certificate.
fn server_window() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid"),
        NaiveDate::from_ymd_opt(2049, 12, 31).expect("valid"),
    )
}

/// Everything TLS needs in a live run.
pub struct LivePki {
    pub server_ca: Authority,
    pub server: Issued,
    pub terminal_ca: Authority,
    pub crl: Vec<u8>,
    /// The verifier for terminal client certificates (terminal CA + CRL).
    pub verifier: Verifier,
    /// The revocations on `crl` (the `revoked` credential's).
    pub revocations: Vec<Revocation>,
    /// `(name, credential)` in [`MATRIX`] order.
    pub matrix: Vec<(&'static str, Issued)>,
    /// The institution `valid.crt` is bound to.
    pub institution: InstitutionCode,
    /// The institution `other-institution.crt` is bound to.
    pub other_institution: InstitutionCode,
    /// The CA nobody trusts (`wrong-ca.crt`'s issuer).
    stranger: Authority,
    /// The virtual start the matrices are dated from.
    start: NaiveDate,
}

/// The credential matrix of one clinic ([`MATRIX`] order): `valid` issued 30 days
/// before `start`, `expired` ended a month before it, `not-yet-valid` from 2 years
/// after, `revoked` as `valid` (its revocation: [`revocation_of`]), `wrong-ca` from
/// `stranger`, `other-institution` bound to `other`.
fn issue_matrix(
    terminal_ca: &Authority,
    stranger: &Authority,
    start: NaiveDate,
    institution: &InstitutionCode,
    other: &InstitutionCode,
) -> Result<Vec<(&'static str, Issued)>, PkiError> {
    let issued_valid = start.checked_sub_days(Days::new(30)).unwrap_or(start);
    let mut matrix = Vec::with_capacity(MATRIX.len());
    for name in MATRIX {
        let spec = match name {
            "expired" => {
                // Issued 3 years 4 months ago: ended a month before the start.
                let issued = start
                    .checked_sub_months(Months::new(40))
                    .ok_or(PkiError::Date(start))?;
                CertSpec::client(institution, name, issued)
            }
            "not-yet-valid" => {
                let issued = start
                    .checked_add_months(Months::new(24))
                    .ok_or(PkiError::Date(start))?;
                CertSpec::client(institution, name, issued)
            }
            "other-institution" => CertSpec::client(other, name, issued_valid),
            _ => CertSpec::client(institution, name, issued_valid),
        };
        let issued = if name == "wrong-ca" {
            stranger.issue(&spec)?
        } else {
            terminal_ca.issue(&spec)?
        };
        matrix.push((name, issued));
    }
    Ok(matrix)
}

/// The start-time revocation of a matrix's `revoked` credential, dated `date`.
fn revocation_of(matrix: &[(&'static str, Issued)], date: NaiveDate) -> Revocation {
    Revocation {
        serial: matrix
            .iter()
            .find(|(n, _)| *n == "revoked")
            .map(|(_, c)| c.serial.clone())
            .unwrap_or_default(),
        date,
    }
}

impl std::fmt::Debug for LivePki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivePki")
            .field("institution", &self.institution)
            .finish_non_exhaustive()
    }
}

impl LivePki {
    /// Build the PKI for a run starting on `start` (virtual), for `institution`.
    pub fn new(
        seed: u64,
        start: NaiveDate,
        institution: InstitutionCode,
        other_institution: InstitutionCode,
    ) -> Result<Self, PkiError> {
        crate::keystore::install_from_env();
        let (from, to) = server_window();
        let server_ca = Authority::fakes(seed, from, to)?;
        let server = server_ca.issue(&CertSpec::server("onsim-eligibility", from, to))?;
        let ca_from = start
            .checked_sub_months(Months::new(60))
            .ok_or(PkiError::Date(start))?;
        let ca_to = start
            .checked_add_months(Months::new(240))
            .ok_or(PkiError::Date(start))?;
        let terminal_ca = Authority::implementing_body(seed, 1, ca_from, ca_to)?;
        // Generation 9 of the same seed: same kind of CA, a key nobody trusts.
        let stranger = Authority::implementing_body(seed ^ 0x5eed_0bad, 9, ca_from, ca_to)?;
        let back = |days: u64| start.checked_sub_days(Days::new(days)).unwrap_or(start);
        let matrix = issue_matrix(
            &terminal_ca,
            &stranger,
            start,
            &institution,
            &other_institution,
        )?;
        let revocations = vec![revocation_of(&matrix, back(1))];
        let crl = terminal_ca.crl(back(1), 3650, &revocations)?;
        let verifier = Verifier::new().trust(terminal_ca.cert_der()).with_crl(&crl);
        Ok(LivePki {
            server_ca,
            server,
            terminal_ca,
            crl,
            verifier,
            revocations,
            matrix,
            institution,
            other_institution,
            stranger,
            start,
        })
    }

    /// Another clinic of the serve (issue 17 item 2): its own credential matrix for
    /// `institution` (and `other` for `other-institution.crt`), issued by the same
    /// terminal CA (and the same untrusted CA for `wrong-ca`), its `revoked`
    /// credential added to the start-time CRL, which the verifier then judges with.
    pub fn add_clinic(
        &mut self,
        institution: &InstitutionCode,
        other: &InstitutionCode,
    ) -> Result<Vec<(&'static str, Issued)>, PkiError> {
        let start = self.start;
        let matrix = issue_matrix(&self.terminal_ca, &self.stranger, start, institution, other)?;
        let back = start.checked_sub_days(Days::new(1)).unwrap_or(start);
        self.revocations.push(revocation_of(&matrix, back));
        self.crl = self.terminal_ca.crl(back, 3650, &self.revocations)?;
        self.verifier = Verifier::new()
            .trust(self.terminal_ca.cert_der())
            .with_crl(&self.crl);
        Ok(matrix)
    }

    /// The terminal CA's CRL listing `revoked`, signed on `this_update`, and the
    /// verifier that judges with it (a revocation published while serving).
    pub fn crl_for(
        &self,
        this_update: NaiveDate,
        revoked: &[Revocation],
    ) -> Result<(Vec<u8>, Verifier), PkiError> {
        let crl = self.terminal_ca.crl(this_update, 3650, revoked)?;
        let v = Verifier::new()
            .trust(self.terminal_ca.cert_der())
            .with_crl(&crl);
        Ok((crl, v))
    }

    /// Issue a client certificate for a terminal of `institution` on `today`
    /// (the portal's certificate application).
    pub fn issue_client(
        &self,
        institution: &InstitutionCode,
        terminal: &str,
        today: NaiveDate,
    ) -> Result<Issued, PkiError> {
        self.issue_client_spec(&CertSpec::client(institution, terminal, today))
    }

    /// Issue a client certificate of `spec` from the terminal CA (a portal
    /// certificate shaped by a scenario fault: [`super::certificate_fault`]).
    pub fn issue_client_spec(&self, spec: &CertSpec) -> Result<Issued, PkiError> {
        self.terminal_ca.issue(spec)
    }
}
