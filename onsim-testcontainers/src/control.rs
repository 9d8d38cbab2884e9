//! The control API (`control_url`, plain HTTP + JSON): the virtual clock and the
//! verdict. Shapes: `reports/notes/live.md` (Control).

use std::time::Duration;

use serde_json::Value;

use crate::endpoints::HostUrl;
use crate::error::{Error, Result};

/// Longest wait for one control call *(our choice: the calls answer in
/// milliseconds; an advance that delivers months of messages takes well under this)*.
const CALL: Duration = Duration::from_secs(30);

/// `GET /clock`: the virtual clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    /// The virtual instant, `YYYY-MM-DDTHH:MM` (JST, naive), e.g. `2025-04-01T09:00`.
    pub now: String,
    /// Virtual seconds per real second (0 = frozen).
    pub speed: f64,
    /// Messages delivered by the jump (after an advance), else `None`.
    pub delivered: Option<u64>,
    /// The whole answer (`pending`, `next_due`, …).
    pub raw: Value,
}

impl Clock {
    /// The date part of [`Clock::now`] as `YYYYMMDD` (the XmlMsg date form, e.g. a
    /// request's `QualificationConfirmationDate`).
    pub fn date_yyyymmdd(&self) -> String {
        self.now.get(..10).unwrap_or("").replace('-', "")
    }

    fn from_json(url: &str, raw: Value) -> Result<Clock> {
        let shape = |reason: &str| Error::Shape {
            url: url.to_string(),
            reason: format!("{reason}: {raw}"),
        };
        let now = raw["now"]
            .as_str()
            .filter(|s| s.len() >= 16)
            .ok_or_else(|| shape("no \"now\" of the form YYYY-MM-DDTHH:MM"))?
            .to_string();
        let speed = raw["speed"].as_f64().ok_or_else(|| shape("no \"speed\""))?;
        let delivered = raw["delivered"].as_u64();
        Ok(Clock {
            now,
            speed,
            delivered,
            raw,
        })
    }
}

/// How far `POST /clock/advance` moves the clock (forward only; onsim refuses a
/// jump back with 422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    Minutes(u64),
    Hours(u64),
    Days(u64),
    /// To `YYYY-MM-DD` (09:00) or `YYYY-MM-DDTHH:MM`.
    To(String),
}

impl Advance {
    pub(crate) fn body(&self) -> Value {
        match self {
            Advance::Minutes(n) => serde_json::json!({ "minutes": n }),
            Advance::Hours(n) => serde_json::json!({ "hours": n }),
            Advance::Days(n) => serde_json::json!({ "days": n }),
            Advance::To(t) => serde_json::json!({ "to": t }),
        }
    }
}

/// A plain-HTTP client for the control API, connecting to the published port.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    /// `http://<connect ip>:<host port>` of `control_url`.
    base: String,
    agent: ureq::Agent,
}

impl Control {
    pub(crate) fn new(control: &HostUrl) -> Control {
        let ip = if control.connect_ip.contains(':') {
            format!("[{}]", control.connect_ip)
        } else {
            control.connect_ip.clone()
        };
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(CALL))
            .http_status_as_error(false)
            .build();
        Control {
            base: format!("http://{ip}:{}", control.port),
            agent: ureq::Agent::new_with_config(config),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn clock(&self) -> Result<Clock> {
        let url = self.url("/clock");
        Clock::from_json(&url, self.get(&url)?)
    }

    pub(crate) fn advance(&self, by: &Advance) -> Result<Clock> {
        let url = self.url("/clock/advance");
        Clock::from_json(&url, self.post(&url, &by.body())?)
    }

    pub(crate) fn get(&self, url: &str) -> Result<Value> {
        let r = self.agent.get(url).call();
        answer(url, r)
    }

    pub(crate) fn post(&self, url: &str, body: &Value) -> Result<Value> {
        let r = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.to_string());
        answer(url, r)
    }
}

fn answer(
    url: &str,
    r: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Value> {
    let mut r = r.map_err(|e| Error::Http {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().map_err(|e| Error::Http {
        url: url.to_string(),
        reason: format!("reading the answer: {e}"),
    })?;
    if !(200..300).contains(&status) {
        return Err(Error::Status {
            url: url.to_string(),
            status,
            body,
        });
    }
    serde_json::from_str(&body).map_err(|e| Error::Shape {
        url: url.to_string(),
        reason: format!("not JSON ({e}): {body}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_bodies_say_exactly_one_thing() {
        assert_eq!(Advance::Days(1).body().to_string(), r#"{"days":1}"#);
        assert_eq!(Advance::Minutes(5).body().to_string(), r#"{"minutes":5}"#);
        assert_eq!(Advance::Hours(2).body().to_string(), r#"{"hours":2}"#);
        assert_eq!(
            Advance::To("2025-04-15".into()).body().to_string(),
            r#"{"to":"2025-04-15"}"#
        );
    }

    #[test]
    fn clock_json_is_read_or_refused_by_name() {
        let c = Clock::from_json(
            "u",
            serde_json::json!({"now": "2025-04-02T09:00", "speed": 0.0, "delivered": 3, "pending": 1}),
        )
        .unwrap();
        assert_eq!(
            (c.now.as_str(), c.speed, c.delivered),
            ("2025-04-02T09:00", 0.0, Some(3))
        );
        assert_eq!(c.date_yyyymmdd(), "20250402");
        let e = Clock::from_json("u", serde_json::json!({"speed": 0})).unwrap_err();
        assert!(e.to_string().contains("no \"now\""), "{e}");
    }

    #[test]
    fn urls_go_to_the_published_port() {
        let h = |ip: &str| HostUrl {
            url: "http://onsim:31000".into(),
            host: "onsim".into(),
            port: 31000,
            connect_ip: ip.into(),
            resolve: String::new(),
        };
        assert_eq!(
            Control::new(&h("127.0.0.1")).url("/verdict"),
            "http://127.0.0.1:31000/verdict"
        );
        assert_eq!(
            Control::new(&h("::1")).url("/clock"),
            "http://[::1]:31000/clock"
        );
    }

    #[test]
    fn a_refused_connection_is_an_http_error_naming_the_url() {
        // A port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Control::new(&HostUrl {
            url: String::new(),
            host: "127.0.0.1".into(),
            port,
            connect_ip: "127.0.0.1".into(),
            resolve: String::new(),
        });
        let e = c.clock().unwrap_err();
        assert!(matches!(e, Error::Http { .. }), "{e:?}");
        assert!(
            e.to_string().contains(&format!("127.0.0.1:{port}/clock")),
            "{e}"
        );
    }
}
