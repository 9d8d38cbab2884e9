//! The sweep report as long-format CSV (`variant,section,item,stat,value`), written
//! with the `csv` crate (quoting as RFC 4180 needs it).

use super::measure::Unit;
use super::report::{Percentiles, SweepReport};

fn opt<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as long-format CSV: `variant,section,item,stat,value`.
pub fn to_csv(r: &SweepReport) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing into memory fails only if memory does.
    const MEM: &str = "CSV into memory";
    w.write_record(["variant", "section", "item", "stat", "value"])
        .expect(MEM);
    let mut row = |v: &str, section: &str, item: &str, stat: &str, value: String| {
        w.write_record([v, section, item, stat, value.as_str()])
            .expect(MEM);
    };
    for v in &r.variants {
        let l = v.label.as_str();
        row(l, "meta", "", "runs", v.runs.to_string());
        row(l, "meta", "", "rules", v.rules.clone());
        row(l, "meta", "", "bureau", v.bureau.clone());
        row(l, "meta", "", "designation", v.designation.to_string());
        for o in &v.outcomes {
            row(l, "outcome", &o.outcome, "count", o.count.to_string());
            row(l, "outcome", &o.outcome, "p", o.p.to_string());
            row(l, "outcome", &o.outcome, "ci95_low", o.ci95[0].to_string());
            row(l, "outcome", &o.outcome, "ci95_high", o.ci95[1].to_string());
        }
        let pct = |p: &Percentiles| {
            [
                ("p5", opt(p.p5)),
                ("p25", opt(p.p25)),
                ("p50", opt(p.p50)),
                ("p75", opt(p.p75)),
                ("p90", opt(p.p90)),
                ("p95", opt(p.p95)),
                ("p99", opt(p.p99)),
                ("min", opt(p.min)),
                ("max", opt(p.max)),
                ("mean", opt(p.mean)),
            ]
        };
        let d = &v.start_delay;
        row(
            l,
            "start-delay",
            "calendar-days",
            "online",
            d.online.to_string(),
        );
        row(
            l,
            "start-delay",
            "calendar-days",
            "never",
            d.never.to_string(),
        );
        for (k, x) in pct(&d.percentiles) {
            row(l, "start-delay", "calendar-days", k, x);
        }
        for [x, c] in &d.histogram {
            row(
                l,
                "start-delay-hist",
                &x.to_string(),
                "count",
                c.to_string(),
            );
        }
        for s in &v.slack {
            let unit = match s.unit {
                Unit::BusinessDays => "business-days",
                Unit::CalendarDays => "calendar-days",
            };
            row(l, "slack", &s.id, "unit", unit.to_string());
            row(l, "slack", &s.id, "deadline", s.deadline.clone());
            row(l, "slack", &s.id, "happened", s.happened.to_string());
            row(l, "slack", &s.id, "missing", s.missing.to_string());
            row(l, "slack", &s.id, "late", s.late.to_string());
            row(l, "slack", &s.id, "p_late", s.p_late.to_string());
            for (k, x) in pct(&s.percentiles) {
                row(l, "slack", &s.id, k, x);
            }
            for [x, c] in &s.histogram {
                row(
                    l,
                    "slack-hist",
                    &format!("{}:{x}", s.id),
                    "count",
                    c.to_string(),
                );
            }
        }
        row(
            l,
            "critical-path",
            "",
            "runs_not_online_on_day_one",
            v.critical_path.runs_not_online_on_day_one.to_string(),
        );
        for c in &v.critical_path.causes {
            row(l, "critical-path", &c.cause, "count", c.count.to_string());
            row(l, "critical-path", &c.cause, "share", c.share.to_string());
        }
    }
    let bytes = w.into_inner().expect(MEM);
    String::from_utf8(bytes).expect("CSV of UTF-8 strings is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{sweep, SweepSpec, Vary};

    #[test]
    fn csv_reads_back_with_quoted_labels() {
        let spec = SweepSpec {
            published: Vec::new(),
            file: "std.toml".into(),
            text: include_str!("../../../scenarios/sweeps/r2024-standard.toml").into(),
            runs: 50,
            seed: Some(7),
            // A value with a quote: the label must be quoted in the CSV.
            vary: vec![Vary::parse("scenario.name=a\"b").unwrap()],
            shard: None,
        };
        let r = sweep(&spec, &|_| {}, &|_| {}).unwrap();
        let text = to_csv(&r);
        assert!(text.starts_with("variant,section,item,stat,value\n"));
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = rd.records().map(|x| x.unwrap()).collect();
        assert!(rows.iter().all(|x| x.len() == 5));
        assert_eq!(&rows[0][0], "scenario.name=a\"b");
        assert_eq!(&rows[0][3], "runs");
        assert_eq!(&rows[0][4], "50");
    }
}
