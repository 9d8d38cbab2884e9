//! Expiry warnings for terminal client certificates (docs/DOMAIN.md §7): the portal warns at
//! 90, 60, 30, 15 and 7 days before the end of validity.

use chrono::NaiveDate;

/// The warning thresholds, in days before expiry, largest first.
pub const WARNING_DAYS: [u32; 5] = [90, 60, 30, 15, 7];

/// Where a certificate stands on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryStatus {
    /// More than 90 days left: nothing to say.
    Fine { days_left: u32 },
    /// Within `threshold` days (the smallest threshold reached) of expiry.
    Warning { threshold: u32, days_left: u32 },
    /// `not_after` has passed.
    Expired { days_ago: u32 },
}

/// The status of a certificate valid until (and including) `not_after`, on `today`.
pub fn expiry_status(not_after: NaiveDate, today: NaiveDate) -> ExpiryStatus {
    let left = (not_after - today).num_days();
    if left < 0 {
        return ExpiryStatus::Expired {
            days_ago: u32::try_from(-left).unwrap_or(u32::MAX),
        };
    }
    let days_left = u32::try_from(left).unwrap_or(u32::MAX);
    match WARNING_DAYS.iter().rev().find(|&&t| days_left <= t) {
        Some(&threshold) => ExpiryStatus::Warning {
            threshold,
            days_left,
        },
        None => ExpiryStatus::Fine { days_left },
    }
}

/// The warning threshold (90/60/30/15/7) that applies on `today`, if any.
pub fn expiry_warning(not_after: NaiveDate, today: NaiveDate) -> Option<u32> {
    match expiry_status(not_after, today) {
        ExpiryStatus::Warning { threshold, .. } => Some(threshold),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn thresholds() {
        let end = d("2027-06-30");
        assert_eq!(expiry_warning(end, d("2027-01-01")), None);
        assert_eq!(expiry_warning(end, d("2027-04-01")), Some(90)); // 90 days left
        assert_eq!(expiry_warning(end, d("2027-05-01")), Some(60));
        assert_eq!(expiry_warning(end, d("2027-05-31")), Some(30));
        assert_eq!(expiry_warning(end, d("2027-06-15")), Some(15));
        assert_eq!(expiry_warning(end, d("2027-06-23")), Some(7));
        assert_eq!(expiry_warning(end, d("2027-06-30")), Some(7));
        assert_eq!(
            expiry_status(end, d("2027-07-02")),
            ExpiryStatus::Expired { days_ago: 2 }
        );
        assert_eq!(
            expiry_status(end, d("2027-04-01")),
            ExpiryStatus::Warning {
                threshold: 90,
                days_left: 90
            }
        );
        assert_eq!(
            expiry_status(end, d("2027-03-31")),
            ExpiryStatus::Fine { days_left: 91 }
        );
    }
}
