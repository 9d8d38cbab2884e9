//! The terminal CA's revocations while `onsim serve` runs: one list, one CRL, one
//! verifier. Two callers publish: `POST {control_url}/pki/revocations` (a tester
//! revokes a credential of the matrix now) and the world, when a scenario's
//! `client-certificate` fault with `problem = "revoked"` meets a certificate the
//! portal issued ([`super::world`]).
//!
//! A revocation may be dated after the CRL's `thisUpdate`: the verifier honours an
//! entry from its `revocationDate` on ([`fakes::pki::Verifier`]), so a certificate
//! revoked "from the go-live day" is good until then and refused from then on, on the
//! virtual clock, through real X.509 CRL checking at the handshake and on every
//! request ([`super::tls::VirtualClockClientVerifier`]).

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use fakes::pki::{PkiError, Revocation};

use super::pki::LivePki;
use super::tls::VirtualClockClientVerifier;

pub struct TerminalRevocations {
    pki: Arc<LivePki>,
    verifier: Arc<VirtualClockClientVerifier>,
    /// Every revocation so far, the start-time CRL's first.
    list: Mutex<Vec<Revocation>>,
}

impl std::fmt::Debug for TerminalRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.list.lock().map(|l| l.len()).unwrap_or(0);
        f.debug_struct("TerminalRevocations")
            .field("revocations", &n)
            .finish_non_exhaustive()
    }
}

impl TerminalRevocations {
    pub fn new(pki: Arc<LivePki>, verifier: Arc<VirtualClockClientVerifier>) -> Self {
        let list = Mutex::new(pki.revocations.clone());
        TerminalRevocations {
            pki,
            verifier,
            list,
        }
    }

    /// Revoke `serial` from `since` (UTC day) on, sign a CRL on `today` (UTC day)
    /// listing every revocation so far, and judge with it from the next request on.
    /// Returns the CRL (DER). Revoking a serial twice keeps the first date.
    pub fn revoke(
        &self,
        serial: Vec<u8>,
        since: NaiveDate,
        today: NaiveDate,
    ) -> Result<Vec<u8>, PkiError> {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if !list.iter().any(|r| r.serial == serial) {
            list.push(Revocation {
                serial,
                date: since,
            });
        }
        let (crl, verifier) = self.pki.crl_for(today, &list)?;
        // Published under the list's lock: two revocations never race to an old CRL.
        self.verifier.publish_crl(verifier);
        Ok(crl)
    }

    /// The revocations so far.
    pub fn list(&self) -> Vec<Revocation> {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
