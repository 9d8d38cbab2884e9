//! The shared virtual clock of live mode.
//!
//! It starts at a given virtual instant and either runs scaled (`speed` virtual
//! seconds per real second; 86 400 = a virtual day per real second) or stands still
//! (`speed` 0) and moves only when told to. Jumps only go forward: the actors were
//! written for a time that never runs backwards.
//!
//! The clock knows nothing about the actors: [`super::world::World`] reads it and
//! delivers every message that has come due.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{NaiveDate, NaiveDateTime};
use fakes::time::VirtualTime;

/// Seconds per minute of [`VirtualTime`] (which counts minutes).
const SECS_PER_MINUTE: i64 = 60;

#[derive(Debug)]
struct State {
    /// Virtual seconds since the [`VirtualTime`] epoch at `real`.
    base: f64,
    real: Instant,
    speed: f64,
}

/// A virtual clock shared by every live service (wrap it in an `Arc`).
#[derive(Debug)]
pub struct VirtualClock {
    state: Mutex<State>,
}

/// Why the clock refused a change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClockError {
    #[error("the clock only moves forward: {to} is before now ({now})")]
    Backwards { now: VirtualTime, to: VirtualTime },
    #[error("speed must be a finite number between 0 and 31536000 (a year per second), got {0}")]
    Speed(f64),
    #[error("cannot go past 2099-12-31 (the calendar's end)")]
    PastCalendar,
}

/// Largest allowed speed: one virtual year per real second.
pub const MAX_SPEED: f64 = 31_536_000.0;

fn last_instant() -> VirtualTime {
    VirtualTime::at(fakes::process::far_future(), 23, 59)
}

impl VirtualClock {
    /// A clock at `start`, running at `speed` (0 = frozen).
    pub fn new(start: VirtualTime, speed: f64) -> Result<Self, ClockError> {
        check_speed(speed)?;
        Ok(VirtualClock {
            state: Mutex::new(State {
                base: (start.0 * SECS_PER_MINUTE) as f64,
                real: Instant::now(),
                speed,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn secs(s: &State) -> f64 {
        s.base + s.real.elapsed().as_secs_f64() * s.speed
    }

    /// Virtual seconds since the epoch (whole seconds), capped at the calendar's end.
    pub fn now_secs(&self) -> i64 {
        let s = self.lock();
        (Self::secs(&s).floor() as i64).min(last_instant().0 * SECS_PER_MINUTE)
    }

    /// The current virtual instant (to the minute).
    pub fn now(&self) -> VirtualTime {
        VirtualTime(self.now_secs().div_euclid(SECS_PER_MINUTE))
    }

    /// The current virtual instant with seconds, for certificate checks.
    pub fn now_naive(&self) -> NaiveDateTime {
        let secs = self.now_secs();
        let t = VirtualTime(secs.div_euclid(SECS_PER_MINUTE));
        let (h, m) = t.hour_minute();
        t.date()
            .and_hms_opt(h, m, secs.rem_euclid(SECS_PER_MINUTE) as u32)
            .unwrap_or_else(|| t.date().and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date()
    }

    pub fn speed(&self) -> f64 {
        self.lock().speed
    }

    /// Change the speed from now on (0 freezes the clock).
    pub fn set_speed(&self, speed: f64) -> Result<(), ClockError> {
        check_speed(speed)?;
        let mut s = self.lock();
        s.base = Self::secs(&s);
        s.real = Instant::now();
        s.speed = speed;
        Ok(())
    }

    /// Jump to `to` (forward only). Returns the new time.
    pub fn advance_to(&self, to: VirtualTime) -> Result<VirtualTime, ClockError> {
        if to > last_instant() {
            return Err(ClockError::PastCalendar);
        }
        let mut s = self.lock();
        let now_secs = Self::secs(&s);
        let now = VirtualTime((now_secs.floor() as i64).div_euclid(SECS_PER_MINUTE));
        if to < now {
            return Err(ClockError::Backwards { now, to });
        }
        // Jumping to the current minute keeps the seconds already elapsed in it.
        s.base = ((to.0 * SECS_PER_MINUTE) as f64).max(now_secs);
        s.real = Instant::now();
        Ok(to)
    }

    /// Jump forward by `minutes` (≥ 0).
    pub fn advance_minutes(&self, minutes: i64) -> Result<VirtualTime, ClockError> {
        let now = self.now();
        if minutes < 0 {
            return Err(ClockError::Backwards {
                now,
                to: now.plus_minutes(minutes),
            });
        }
        self.advance_to(now.plus_minutes(minutes))
    }
}

fn check_speed(speed: f64) -> Result<(), ClockError> {
    if speed.is_finite() && (0.0..=MAX_SPEED).contains(&speed) {
        Ok(())
    } else {
        Err(ClockError::Speed(speed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> VirtualTime {
        serde_json::from_value(serde_json::json!(s)).unwrap()
    }

    #[test]
    fn frozen_clock_moves_only_on_command() {
        let c = VirtualClock::new(t("2025-04-01T09:00"), 0.0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(c.now(), t("2025-04-01T09:00"));
        c.advance_minutes(90).unwrap();
        assert_eq!(c.now(), t("2025-04-01T10:30"));
        assert!(matches!(
            c.advance_to(t("2025-04-01T09:00")),
            Err(ClockError::Backwards { .. })
        ));
        c.advance_to(t("2025-04-15T09:00")).unwrap();
        assert_eq!(c.today(), NaiveDate::from_ymd_opt(2025, 4, 15).unwrap());
        assert!(c.advance_to(t("2100-01-01T00:00")).is_err());
    }

    #[test]
    fn scaled_clock_runs() {
        // A virtual day per real second: 50 ms is more than an hour.
        let c = VirtualClock::new(t("2025-04-01T00:00"), 86_400.0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(c.now() >= t("2025-04-01T01:00"), "{}", c.now());
        c.set_speed(0.0).unwrap();
        let frozen = c.now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(c.now(), frozen);
        assert!(c.set_speed(f64::NAN).is_err());
        assert!(c.set_speed(-1.0).is_err());
    }
}
