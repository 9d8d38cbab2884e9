//! The portal's usage application (オンライン資格確認利用申請) and its order with the
//! certificate application, as the r2024 guide 3-4 states them (seed 001):
//!
//! "申請時に必要となる情報: 電気通信回線種別 (IP-VPN接続方式・IPsec+IKE接続方式のいずれか);
//! お客様ID (IP-VPN接続方式でNTT回線利用の場合); オンライン資格確認の利用開始予定年月;
//! 運用テスト開始予定年月 (決定している場合)" and "「オンライン資格確認利用申請」完了後に
//! 電子証明書の発行画面へ進みます".
//!
//! One typed struct with its validation, for the timeline and the live portal.

use chrono::{Datelike, NaiveDate};

use super::lines;
use super::params::LineType;

/// A year and month (利用開始予定年月 and the like), always the 1st.
pub type YearMonth = NaiveDate;

/// What a usage application carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageApplication {
    /// 電気通信回線種別: IP-VPN or IPsec+IKE (a plain internet line is not one).
    pub line: LineType,
    /// The service, as on the connectable list (to tell whether it is an NTT line).
    pub service: String,
    /// お客様ID: required for an NTT line on IP-VPN.
    pub ntt_customer_id: Option<String>,
    /// 利用開始予定年月 (required).
    pub start_month: YearMonth,
    /// 運用テスト開始予定年月, if decided; not after the start month.
    pub test_month: Option<YearMonth>,
}

/// Why a usage application, or a certificate application, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalError {
    #[error("line: {0}")]
    Line(#[from] lines::LineRefusal),
    #[error("ntt_customer_id: an IP-VPN line of NTT needs the お客様ID")]
    MissingNttCustomerId,
    #[error("ntt_customer_id: only an IP-VPN line of NTT has an お客様ID")]
    UnexpectedNttCustomerId,
    #[error("start_month: {0} is not the 1st of a month (write the year and month)")]
    NotAMonth(NaiveDate),
    #[error("test_month {test} is after start_month {start}")]
    TestAfterStart { test: NaiveDate, start: NaiveDate },
    #[error("certificate application before the usage application: the portal shows the certificate screen only after the usage application is complete")]
    CertificateBeforeUsage,
}

impl UsageApplication {
    /// Check the contents. `collabo_available` decides a 光コラボ service
    /// ([`lines::check`]).
    pub fn validate(&self, collabo_available: bool) -> Result<(), PortalError> {
        let row = lines::check(&self.service, self.line, collabo_available)?;
        let needs_id = row.ntt && self.line == LineType::IpVpn;
        let has_id = self
            .ntt_customer_id
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty());
        match (needs_id, has_id) {
            (true, false) => return Err(PortalError::MissingNttCustomerId),
            (false, true) => return Err(PortalError::UnexpectedNttCustomerId),
            _ => {}
        }
        for m in std::iter::once(self.start_month).chain(self.test_month) {
            if m.day() != 1 {
                return Err(PortalError::NotAMonth(m));
            }
        }
        if let Some(t) = self.test_month {
            if t > self.start_month {
                return Err(PortalError::TestAfterStart {
                    test: t,
                    start: self.start_month,
                });
            }
        }
        Ok(())
    }
}

/// The portal's order: a certificate application is taken only after a usage
/// application was completed.
pub fn certificate_allowed(usage_done: bool) -> Result<(), PortalError> {
    if usage_done {
        Ok(())
    } else {
        Err(PortalError::CertificateBeforeUsage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn app() -> UsageApplication {
        UsageApplication {
            line: LineType::IpVpn,
            service: "NTT東日本 フレッツ 光ネクスト".into(),
            ntt_customer_id: Some("CAF0000000000".into()),
            start_month: d("2025-06-01"),
            test_month: Some(d("2025-05-01")),
        }
    }

    #[test]
    fn a_complete_application_passes() {
        app().validate(true).unwrap();
        let mut a = app();
        a.test_month = None;
        a.validate(true).unwrap();
    }

    #[test]
    fn ntt_ip_vpn_needs_the_customer_id_and_others_have_none() {
        let mut a = app();
        a.ntt_customer_id = None;
        assert_eq!(a.validate(true), Err(PortalError::MissingNttCustomerId));
        let mut a = app();
        a.service = "QTnet BBIQ".into();
        assert_eq!(a.validate(true), Err(PortalError::UnexpectedNttCustomerId));
        a.ntt_customer_id = None;
        a.validate(true).unwrap();
    }

    #[test]
    fn months_and_line_are_checked() {
        let mut a = app();
        a.start_month = d("2025-06-15");
        assert_eq!(
            a.validate(true),
            Err(PortalError::NotAMonth(d("2025-06-15")))
        );
        let mut a = app();
        a.test_month = Some(d("2025-07-01"));
        assert!(matches!(
            a.validate(true),
            Err(PortalError::TestAfterStart { .. })
        ));
        let mut a = app();
        a.line = LineType::Internet;
        assert!(matches!(a.validate(true), Err(PortalError::Line(_))));
        assert_eq!(
            certificate_allowed(false),
            Err(PortalError::CertificateBeforeUsage)
        );
        certificate_allowed(true).unwrap();
    }
}
