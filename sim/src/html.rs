//! Self-contained HTML reports: inline CSS and inline SVG, no scripts, no external
//! assets, so a report opens offline and can be mailed as one file. Output is
//! deterministic (no timestamps, fixed number formats) and every text is escaped.
//!
//! - [`run_report`]: per scenario, the verdicts, the failing expectations with their
//!   explanations, and a Gantt-style timeline: one lane per actor, each actor's steps
//!   as bars and its events as marks, the schedule's milestones as vertical markers,
//!   closed days (weekends, holidays, the year-end closure) shaded.
//! - [`sweep_report`]: per variant of a sweep, outcome probabilities with 95%
//!   intervals, the start-delay histogram with its CDF, slack histograms per milestone
//!   against the deadline, and the critical-path attribution.

use std::fmt::Write;

use chrono::{Datelike, NaiveDate};

use fakes::calendar::{BusinessCalendar, ClosedReason};
use fakes::process::{ActorId, Event, EventKind};

use crate::runner::RunResult;
use crate::scenario::{Outcome, Scenario};
use crate::sweep::{SweepReport, Unit, VariantReport};

/// Escape text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --fg:#1d2330; --muted:#5b6475; --line:#d5d9e0; --ok:#1a7f37; --bad:#c62828; --warn:#b26a00; --acc:#2557a7; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans JP", "Hiragino Sans", sans-serif; color: var(--fg); margin: 0; background: #f6f7f9; }
header.page { background: #1d2330; color: #fff; padding: 14px 24px; }
header.page h1 { margin: 0; font-size: 20px; }
header.page p { margin: 4px 0 0; color: #c9cfda; }
main { padding: 16px 24px 40px; max-width: 1600px; }
section.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
h2 { font-size: 17px; margin: 0 0 6px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: var(--muted); margin: 0 0 8px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; vertical-align: 2px; }
.badge.pass { background: var(--ok); } .badge.fail { background: var(--bad); } .badge.info { background: var(--acc); }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.checks { list-style: none; padding: 0; margin: 4px 0; }
ul.checks li { margin: 4px 0; }
.ok { color: var(--ok); font-weight: 700; } .bad { color: var(--bad); font-weight: 700; }
pre { background: #f3f4f7; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; overflow-x: auto; font-size: 12px; margin: 4px 0 8px; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
svg { display: block; font-family: system-ui, sans-serif; }
svg text { font-size: 11px; fill: #1d2330; }
svg .lane-label { font-size: 12px; font-weight: 600; }
svg .ms-label { font-size: 10px; fill: #5b6475; }
svg .axis { font-size: 10px; fill: #5b6475; }
.legend { color: var(--muted); font-size: 12px; margin: 6px 0; }
.legend span { display: inline-block; margin-right: 14px; }
.sw { display: inline-block; width: 12px; height: 10px; vertical-align: -1px; margin-right: 4px; border: 1px solid #bbb; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 10px 18px; }
.grid figure { margin: 0; }
figcaption { font-size: 12px; color: var(--muted); margin: 2px 0 4px; }
details summary { cursor: pointer; color: var(--acc); }
"#;

fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header class=\"page\"><h1>{}</h1><p>{}</p></header>\n<main>\n{body}</main>\n</body>\n</html>\n",
        esc(title),
        esc(title),
        esc(subtitle)
    )
}

// ---------------------------------------------------------------------------
// Run report
// ---------------------------------------------------------------------------

/// The HTML report of `onsim run`.
pub fn run_report(results: &[(Scenario, RunResult)]) -> String {
    let passed = results.iter().filter(|(_, r)| r.passed).count();
    let failed = results.len() - passed;
    let mut body = String::new();
    // Summary table.
    body.push_str("<section class=\"card\" id=\"summary\"><h2>Summary</h2>");
    let _ = write!(
        body,
        "<p class=\"meta\">{} scenarios: <span class=\"ok\">{passed} passed</span>, <span class=\"{}\">{failed} failed</span></p>",
        results.len(),
        if failed > 0 { "bad" } else { "meta" }
    );
    body.push_str("<table><tr><th>verdict</th><th>scenario</th><th>rules</th><th>bureau</th><th>designation</th><th>outcome</th><th>online start</th></tr>");
    for (i, (s, r)) in results.iter().enumerate() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td><a href=\"#s{i}\">{}</a><br><small class=\"meta\">{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            verdict(r.passed),
            esc(&s.spec.scenario.name),
            esc(&s.file),
            esc(s.spec.scenario.rules.id()),
            esc(s.bureau.id()),
            s.spec.clinic.designation,
            esc(r.outcome.as_str()),
            r.online_start.map(|d| d.to_string()).unwrap_or_else(|| "—".into())
        );
    }
    body.push_str("</table></section>\n");
    for (i, (s, r)) in results.iter().enumerate() {
        scenario_section(&mut body, i, s, r);
    }
    page(
        "onsim run",
        &format!(
            "{} scenarios, {passed} passed, {failed} failed",
            results.len()
        ),
        &body,
    )
}

fn verdict(passed: bool) -> &'static str {
    if passed {
        "<span class=\"badge pass\">PASS</span>"
    } else {
        "<span class=\"badge fail\">FAIL</span>"
    }
}

fn scenario_section(body: &mut String, i: usize, s: &Scenario, r: &RunResult) {
    let _ = write!(
        body,
        "<section class=\"card scenario\" id=\"s{i}\"><h2>{} {}</h2><p class=\"meta\">{} · rules {} · bureau {} · designation {} · seed {} · outcome <b>{}</b>{}</p>",
        verdict(r.passed),
        esc(&s.spec.scenario.name),
        esc(&s.file),
        esc(s.spec.scenario.rules.id()),
        esc(s.bureau.id()),
        s.spec.clinic.designation,
        s.spec.scenario.seed,
        esc(r.outcome.as_str()),
        r.online_start
            .map(|d| format!(" · online from {d}"))
            .unwrap_or_default()
    );
    if let Some(d) = &s.spec.scenario.description {
        let _ = write!(body, "<p>{}</p>", esc(d));
    }
    if let Some(reason) = &r.refused {
        let _ = write!(body, "<p class=\"bad\">Refused: {}</p>", esc(reason));
    }
    body.push_str("<h3>Expectations</h3><ul class=\"checks\">");
    for c in &r.checks {
        let _ = write!(
            body,
            "<li class=\"{}\">{} {}",
            if c.passed { "check-pass" } else { "check-fail" },
            if c.passed {
                "<span class=\"ok\">✓</span>"
            } else {
                "<span class=\"bad\">✗</span>"
            },
            esc(&c.expectation)
        );
        if let Some(e) = &c.explanation {
            let _ = write!(body, "<pre class=\"explanation\">{}</pre>", esc(e));
        }
        body.push_str("</li>");
    }
    body.push_str("</ul>");
    if !r.timeline.is_empty() {
        body.push_str("<h3>Timeline</h3>");
        gantt(body, s, r);
        body.push_str("<details><summary>Every event</summary><table><tr><th>when</th><th>actor</th><th>event</th><th>why</th><th>detail</th></tr>");
        for e in &r.timeline {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.at,
                e.actor.as_str(),
                e.kind.as_str(),
                esc(e.why),
                esc(e.detail.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table></details>");
    }
    body.push_str("</section>\n");
}

/// Steps drawn as bars: (lane, start event, end events, label).
const SPANS: &[(ActorId, EventKind, &[EventKind], &str)] = &[
    (
        ActorId::Clinic,
        EventKind::BureauAnswerDispatched,
        &[EventKind::BureauAnswerReceived],
        "answer by post",
    ),
    (
        ActorId::Clinic,
        EventKind::CertificateIssued,
        &[EventKind::CertificateNoticeReceived],
        "notice by registered mail",
    ),
    (
        ActorId::Bureau,
        EventKind::ReceptionRequestReceived,
        &[
            EventKind::BureauAnswerDispatched,
            EventKind::RequestReturned,
        ],
        "reception number",
    ),
    (
        ActorId::Bureau,
        EventKind::DesignationApplicationAccepted,
        &[EventKind::Designated, EventKind::NotDesignated],
        "council (地医協)",
    ),
    (
        ActorId::ImplementingBody,
        EventKind::ReceptionNumberSubmitted,
        &[EventKind::AccountReady],
        "account",
    ),
    (
        ActorId::ImplementingBody,
        EventKind::CertificateApplicationSent,
        &[EventKind::CertificateIssued],
        "certificate",
    ),
    (
        ActorId::ImplementingBody,
        EventKind::ReaderApplied,
        &[EventKind::ReaderShipped],
        "free reader",
    ),
    (
        ActorId::ReaderVendor,
        EventKind::ReaderOrdered,
        &[EventKind::ReaderShipped],
        "reader lead time",
    ),
    (
        ActorId::ReaderVendor,
        EventKind::ReaderDeadOnArrival,
        &[EventKind::ReaderShipped],
        "replacement",
    ),
    (
        ActorId::Carrier,
        EventKind::LineOrdered,
        &[EventKind::LineReady, EventKind::LineRejected],
        "line lead time",
    ),
    (
        ActorId::SystemVendor,
        EventKind::SystemOrdered,
        &[EventKind::InstallationDone],
        "order → installation",
    ),
];

fn is_bad(k: EventKind) -> bool {
    use EventKind::*;
    matches!(
        k,
        RequestReturned
            | ReaderDeadOnArrival
            | LineRejected
            | ReceptionNumberLate
            | CertificateNoticeLost
            | CorrectionRequested
            | DesignationApplicationLate
            | NotDesignated
            | NumberReuseHazard
            | InstallationPostponed
            | ConnectivityFailed
            | OnlineStartFailed
            | FaceAuthFailed
            | CardConfirmationRefused
            | VisualCheckFallback
    )
}

fn is_good(k: EventKind) -> bool {
    use EventKind::*;
    matches!(
        k,
        OnlineStart | LimitedTypeReady | InstallationDone | Designated | OperationTestPassed
    )
}

/// A Gantt-style SVG of one run.
fn gantt(body: &mut String, s: &Scenario, r: &RunResult) {
    let designation = s.spec.clinic.designation;
    let mut lo = r.timeline.first().map_or(designation, |e| e.at.date());
    let mut hi = r.timeline.last().map_or(designation, |e| e.at.date());
    // Milestones on the same day share one marker and one label.
    let mut milestones: Vec<(String, NaiveDate, String)> = Vec::new();
    if let Some(sc) = &r.schedule {
        let mut ms: Vec<_> = sc.milestones.iter().collect();
        ms.sort_by_key(|m| m.date);
        for m in ms {
            match milestones.last_mut() {
                Some((ids, d, rules)) if *d == m.date => {
                    ids.push_str(", ");
                    ids.push_str(m.id.as_str());
                    rules.push('\n');
                    rules.push_str(&m.rule);
                }
                _ => milestones.push((m.id.as_str().to_string(), m.date, m.rule.clone())),
            }
        }
    }
    for (_, d, _) in &milestones {
        lo = lo.min(*d);
        hi = hi.max(*d);
    }
    hi = hi.max(designation);
    // Keep it readable: at most about 14 months.
    if (hi - lo).num_days() > 420 {
        lo = hi - chrono::Duration::days(420);
    }
    let lo = lo - chrono::Duration::days(5);
    let hi = hi + chrono::Duration::days(8);
    let days = (hi - lo).num_days() + 1;
    let dw = 5.0_f64; // px per day
    let left = 150.0;
    let top = 200.0;
    let lane_h = 56.0;
    let lanes = ActorId::ALL.len() as f64;
    let width = left + days as f64 * dw + 240.0;
    let height = top + lanes * lane_h + 34.0;
    let x_of = |d: NaiveDate| left + (d - lo).num_days() as f64 * dw;
    let x_at = |e: &Event| {
        let (h, m) = e.at.hour_minute();
        x_of(e.at.date()) + (f64::from(h * 60 + m) / 1440.0) * dw
    };
    let lane_y = |a: ActorId| {
        let i = ActorId::ALL.iter().position(|x| *x == a).unwrap_or(0) as f64;
        top + i * lane_h
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"timeline of every actor\">",
        w = width,
        h = height
    );
    // Lane backgrounds.
    for (i, a) in ActorId::ALL.iter().enumerate() {
        let y = lane_y(*a);
        let _ = write!(
            svg,
            "<rect x=\"0\" y=\"{y:.1}\" width=\"{width:.0}\" height=\"{lane_h:.0}\" fill=\"{}\"/>",
            if i % 2 == 0 { "#ffffff" } else { "#fafbfc" }
        );
    }
    // Closed days.
    let cal = BusinessCalendar::standard();
    let mut d = lo;
    while d <= hi {
        if let Ok(Some(reason)) = cal.closed_reason(d) {
            let (fill, what) = match &reason {
                ClosedReason::Weekend => ("#eceef2", "weekend".to_string()),
                ClosedReason::Holiday(n) => ("#f7dede", format!("holiday: {n}")),
                ClosedReason::YearEnd => ("#f3e6c8", "year-end closure".to_string()),
                ClosedReason::BureauClosure => ("#f3e6c8", "closure".to_string()),
            };
            let _ = write!(
                svg,
                "<rect class=\"closed\" x=\"{:.1}\" y=\"{top:.0}\" width=\"{dw:.1}\" height=\"{:.0}\" fill=\"{fill}\"><title>{d} closed ({})</title></rect>",
                x_of(d),
                lanes * lane_h,
                esc(&what)
            );
        }
        d = d.succ_opt().unwrap_or(hi + chrono::Duration::days(1));
    }
    // Bureau's own closures.
    for c in s
        .spec
        .actors
        .bureau
        .closures
        .iter()
        .filter(|c| **c >= lo && **c <= hi)
    {
        let _ = write!(
            svg,
            "<rect class=\"closed\" x=\"{:.1}\" y=\"{:.1}\" width=\"{dw:.1}\" height=\"{lane_h:.0}\" fill=\"#f3e6c8\"><title>{c} bureau closure</title></rect>",
            x_of(*c),
            lane_y(ActorId::Bureau)
        );
    }
    // Month grid and axis.
    let mut m = NaiveDate::from_ymd_opt(lo.year(), lo.month(), 1).unwrap_or(lo);
    while m <= hi {
        if m >= lo {
            let x = x_of(m);
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{top:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\" stroke=\"#c4c9d2\" stroke-width=\"1\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.0}\">{}-{:02}</text>",
                top + lanes * lane_h,
                x + 3.0,
                top + lanes * lane_h + 16.0,
                m.year(),
                m.month()
            );
        }
        m = m
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(hi + chrono::Duration::days(1));
    }
    // Lane separators and labels.
    for a in ActorId::ALL {
        let y = lane_y(a);
        let _ = write!(
            svg,
            "<line x1=\"0\" y1=\"{y:.1}\" x2=\"{width:.0}\" y2=\"{y:.1}\" stroke=\"#d5d9e0\"/><rect x=\"0\" y=\"{y:.1}\" width=\"{:.0}\" height=\"{lane_h:.0}\" fill=\"#ffffff\" fill-opacity=\"0.92\"/><text class=\"lane-label\" x=\"8\" y=\"{:.1}\">{}</text>",
            left - 6.0,
            y + lane_h / 2.0 + 4.0,
            a.as_str()
        );
    }
    // Milestones: vertical markers, labels above the lanes (neighbours closer than
    // a label's height share one label).
    let mut labels: Vec<(f64, String, bool)> = Vec::new();
    for (id, date, rule) in &milestones {
        if *date < lo || *date > hi {
            continue;
        }
        let x = x_of(*date) + dw / 2.0;
        let key = id.split(", ").any(|i| i == "designation");
        let _ = write!(
            svg,
            "<g class=\"milestone\"><title>{date} {}: {}</title><line x1=\"{x:.1}\" y1=\"{:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\" stroke=\"{}\" stroke-width=\"{}\" stroke-dasharray=\"{}\"/></g>",
            esc(id),
            esc(rule),
            top - 6.0,
            top + lanes * lane_h,
            if key { "#c62828" } else { "#7a8394" },
            if key { 2 } else { 1 },
            if key { "none" } else { "4 3" },
        );
        let text = format!("{} {id}", date.format("%m-%d"));
        match labels.last_mut() {
            Some((lx, t, k)) if x - *lx < 14.0 => {
                t.push_str(" · ");
                t.push_str(&text);
                *k |= key;
            }
            _ => labels.push((x, text, key)),
        }
    }
    for (x, text, key) in &labels {
        // Long groups are shortened to fit above the lanes; the full text is the tooltip.
        let shown: String = if text.chars().count() > 44 {
            text.chars().take(43).chain(['…']).collect()
        } else {
            text.clone()
        };
        let _ = write!(
            svg,
            "<text class=\"ms-label\" transform=\"translate({:.1},{:.0}) rotate(-40)\"{}><title>{}</title>{}</text>",
            x + 2.0,
            top - 8.0,
            if *key { " style=\"fill:#c62828;font-weight:600\"" } else { "" },
            esc(text),
            esc(&shown)
        );
    }
    // Step bars.
    for (lane, start, ends, label) in SPANS {
        let mut from = 0usize;
        while let Some(si) = r.timeline[from..]
            .iter()
            .position(|e| e.kind == *start)
            .map(|p| p + from)
        {
            let s_ev = &r.timeline[si];
            let end = r.timeline[si..]
                .iter()
                .find(|e| ends.contains(&e.kind) && e.at >= s_ev.at);
            let (x1, x2, open) = match end {
                Some(e) => (x_at(s_ev), x_at(e), false),
                None => (x_at(s_ev), x_of(hi), true),
            };
            let y = lane_y(*lane) + lane_h / 2.0 - 7.0;
            let w = (x2 - x1).max(2.0);
            let days = end.map(|e| (e.at.date() - s_ev.at.date()).num_days());
            let _ = write!(
                svg,
                "<g class=\"step\"><title>{}: {} {}{}</title><rect x=\"{x1:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"14\" rx=\"3\" fill=\"{}\" fill-opacity=\"0.35\" stroke=\"{}\"/>",
                esc(label),
                s_ev.at,
                end.map(|e| format!("→ {}", e.at)).unwrap_or_else(|| "→ (never)".into()),
                days.map(|d| format!(" ({d} days)")).unwrap_or_default(),
                if open { "#c62828" } else { "#2557a7" },
                if open { "#c62828" } else { "#2557a7" },
            );
            if w > 60.0 {
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\">{}{}</text>",
                    x1 + 4.0,
                    y + 11.0,
                    esc(label),
                    days.map(|d| format!(" · {d}d")).unwrap_or_default()
                );
            }
            svg.push_str("</g>");
            from = si + 1;
            // One replacement bar per DOA; one bar per start otherwise.
        }
    }
    // Event marks, labelled on alternating rows so neighbours do not collide.
    for a in ActorId::ALL {
        let y = lane_y(a);
        let mut last_x: [f64; 2] = [f64::MIN; 2];
        for e in r.timeline.iter().filter(|e| e.actor == a) {
            let x = x_at(e);
            let colour = if is_bad(e.kind) {
                "#c62828"
            } else if is_good(e.kind) {
                "#1a7f37"
            } else {
                "#2557a7"
            };
            let _ = write!(
                svg,
                "<g class=\"event\"><title>{} {} — {}{}</title><circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\" stroke=\"#fff\" stroke-width=\"1\"/>",
                e.at,
                e.kind.as_str(),
                esc(e.why),
                e.detail
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .map(|d| format!(" [{}]", esc(d)))
                    .unwrap_or_default(),
                y + lane_h / 2.0
            );
            // Pick the row (above / below the bar) whose last label ends furthest left.
            let label_w = e.kind.as_str().len() as f64 * 5.6;
            let row = if last_x[0] <= last_x[1] { 0 } else { 1 };
            if x >= last_x[row] {
                let ty = if row == 0 { y + 12.0 } else { y + lane_h - 4.0 };
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{ty:.1}\" fill=\"{colour}\" style=\"fill:{colour}\">{}</text>",
                    x - 2.0,
                    e.kind.as_str()
                );
                last_x[row] = x + label_w;
            }
            svg.push_str("</g>");
        }
    }
    svg.push_str("</svg>");
    body.push_str("<div class=\"scroll\">");
    body.push_str(&svg);
    body.push_str("</div>");
    body.push_str("<p class=\"legend\"><span><i class=\"sw\" style=\"background:#eceef2\"></i>weekend</span><span><i class=\"sw\" style=\"background:#f7dede\"></i>national holiday</span><span><i class=\"sw\" style=\"background:#f3e6c8\"></i>year-end / bureau closure</span><span><i class=\"sw\" style=\"background:#2557a7;opacity:.4\"></i>step</span><span><i class=\"sw\" style=\"background:#c62828;opacity:.4\"></i>step never finished</span><span>dashed line: schedule milestone; red line: designation</span><span>● blue event, <b style=\"color:#1a7f37\">●</b> milestone reached, <b style=\"color:#c62828\">●</b> failure or fault</span></p>");
}

// ---------------------------------------------------------------------------
// Sweep report
// ---------------------------------------------------------------------------

/// The HTML report of `onsim sweep` / `onsim merge`.
pub fn sweep_report(r: &SweepReport) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<section class=\"card\" id=\"summary\"><h2>{}</h2><p class=\"meta\">{} · fingerprint {} · seed {} · {} replications per variant{}</p>",
        esc(&r.scenario.name),
        esc(&r.scenario.file),
        esc(&r.scenario.fingerprint),
        r.seed,
        r.runs,
        if r.vary.is_empty() {
            String::new()
        } else {
            format!(" · --vary {}", esc(&r.vary.join(" --vary ")))
        }
    );
    body.push_str("<p>Replication <i>i</i> uses master seed derive_seed(seed, \"run-<i>i</i>\"); every variant uses the same replication seeds. Intervals are Wilson 95%.</p>");
    body.push_str("<table><tr><th>variant</th><th>rules</th><th>bureau</th><th class=\"num\">runs</th><th class=\"num\">online on day 1</th><th>95% CI</th><th class=\"num\">median delay</th><th class=\"num\">p95 delay</th><th class=\"num\">never online</th><th>top cause when late</th></tr>");
    for (i, v) in r.variants.iter().enumerate() {
        let day1 = &v.outcomes[0];
        let _ = write!(
            body,
            "<tr><td><a href=\"#v{i}\">{}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}%</td><td>{}–{}%</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&v.label),
            esc(&v.rules),
            esc(&v.bureau),
            v.runs,
            pct(day1.p),
            pct(day1.ci95[0]),
            pct(day1.ci95[1]),
            v.start_delay.percentiles.p50.map(|d| format!("{d} d")).unwrap_or_else(|| "—".into()),
            v.start_delay.percentiles.p95.map(|d| format!("{d} d")).unwrap_or_else(|| "—".into()),
            v.start_delay.never,
            v.critical_path
                .causes
                .first()
                .map(|c| format!("{} ({}%)", esc(&c.cause), pct(c.share)))
                .unwrap_or_else(|| "—".into())
        );
    }
    body.push_str("</table></section>\n");
    for (i, v) in r.variants.iter().enumerate() {
        variant_section(&mut body, i, v);
    }
    page(
        &format!("onsim sweep — {}", r.scenario.name),
        &format!(
            "{} variant(s) × {} replications, seed {}",
            r.variants.len(),
            r.runs,
            r.seed
        ),
        &body,
    )
}

fn pct(p: f64) -> String {
    format!("{:.2}", p * 100.0)
}

fn variant_section(body: &mut String, i: usize, v: &VariantReport) {
    let _ = write!(
        body,
        "<section class=\"card variant\" id=\"v{i}\"><h2><span class=\"badge info\">{}</span> {}</h2><p class=\"meta\">rules {} · bureau {} · designation {} · {} runs</p>",
        i + 1,
        esc(&v.label),
        esc(&v.rules),
        esc(&v.bureau),
        v.designation,
        v.runs
    );
    if !v.deviations.is_empty() {
        body.push_str("<h3>Published table</h3><p class=\"meta\">This variant ran on the bureau's published dates (<code>--published</code>) where they differ from the rule:</p><table><tr><th>milestone</th><th>rule</th><th>published (used)</th></tr>");
        for d in &v.deviations {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(d.id.as_str()),
                d.rule_date,
                d.published_date
            );
        }
        body.push_str("</table>");
    }
    // Outcomes with CI bars.
    body.push_str("<h3>Outcomes</h3><table class=\"outcomes\"><tr><th>outcome</th><th class=\"num\">runs</th><th class=\"num\">p</th><th>95% CI</th><th></th></tr>");
    for o in v.outcomes.iter().filter(|o| o.count > 0) {
        let w = 240.0;
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}%</td><td>{}–{}%</td><td><svg width=\"{w:.0}\" height=\"14\" role=\"img\" aria-label=\"probability bar\"><rect x=\"0\" y=\"2\" width=\"{w:.0}\" height=\"10\" fill=\"#eef0f4\"/><rect x=\"0\" y=\"2\" width=\"{:.1}\" height=\"10\" fill=\"{}\"/><line x1=\"{:.1}\" y1=\"0\" x2=\"{:.1}\" y2=\"14\" stroke=\"#1d2330\"/><line x1=\"{:.1}\" y1=\"7\" x2=\"{:.1}\" y2=\"7\" stroke=\"#1d2330\"/><line x1=\"{:.1}\" y1=\"0\" x2=\"{:.1}\" y2=\"14\" stroke=\"#1d2330\"/></svg></td></tr>",
            esc(&o.outcome),
            o.count,
            pct(o.p),
            pct(o.ci95[0]),
            pct(o.ci95[1]),
            o.p * w,
            if o.outcome == Outcome::OnlineOnDesignationDay.as_str() { "#1a7f37" } else { "#c62828" },
            o.ci95[0] * w,
            o.ci95[0] * w,
            o.ci95[0] * w,
            o.ci95[1] * w,
            o.ci95[1] * w,
            o.ci95[1] * w,
        );
    }
    body.push_str("</table>");
    // Start delay.
    let d = &v.start_delay;
    let _ = write!(
        body,
        "<h3>Start delay</h3><p class=\"meta\">Calendar days from designation to online start: {} runs online (median {}, p90 {}, p95 {}, p99 {}, max {}), {} never online within the horizon.</p>",
        d.online,
        show(d.percentiles.p50),
        show(d.percentiles.p90),
        show(d.percentiles.p95),
        show(d.percentiles.p99),
        show(d.percentiles.max),
        d.never
    );
    body.push_str(&histogram_svg(
        &d.histogram,
        "days after designation",
        None,
        true,
        640.0,
        200.0,
    ));
    // Slack.
    body.push_str("<h3>Slack per milestone</h3><p class=\"meta\">How far ahead of its deadline each key event happened (positive: early; negative, in red: late). Business days count open days of the government calendar (the bureau's own closures for bureau deadlines); deliveries count calendar days.</p>");
    body.push_str("<table><tr><th>step</th><th>event</th><th>vs</th><th>unit</th><th class=\"num\">happened</th><th class=\"num\">never</th><th class=\"num\">late</th><th class=\"num\">p5</th><th class=\"num\">median</th><th class=\"num\">p95</th></tr>");
    for s in &v.slack {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} ({}%)</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&s.id),
            esc(&s.event),
            esc(&s.deadline),
            unit(s.unit),
            s.happened,
            s.missing,
            s.late,
            pct(s.p_late),
            show(s.percentiles.p5),
            show(s.percentiles.p50),
            show(s.percentiles.p95)
        );
    }
    body.push_str("</table><div class=\"grid\">");
    for s in &v.slack {
        let _ = write!(
            body,
            "<figure class=\"slack\"><figcaption><b>{}</b>: {} vs {} ({})</figcaption>",
            esc(&s.id),
            esc(&s.event),
            esc(&s.deadline),
            unit(s.unit)
        );
        body.push_str(&histogram_svg(
            &s.histogram,
            unit(s.unit),
            Some(0),
            false,
            360.0,
            130.0,
        ));
        body.push_str("</figure>");
    }
    body.push_str("</div>");
    // Critical path.
    let cp = &v.critical_path;
    let _ = write!(
        body,
        "<h3>Critical path</h3><p class=\"meta\">For the {} runs not online on day 1: the step that made the clinic late (first deadline missed, else the last prerequisite to arrive after the planned installation, else the go-live check).</p>",
        cp.runs_not_online_on_day_one
    );
    if cp.causes.is_empty() {
        body.push_str("<p>Every run was online on day 1.</p>");
    } else {
        body.push_str("<table class=\"causes\"><tr><th>cause</th><th class=\"num\">runs</th><th class=\"num\">share</th><th></th><th>meaning</th></tr>");
        for c in &cp.causes {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}%</td><td><svg width=\"200\" height=\"12\" role=\"img\" aria-label=\"share bar\"><rect x=\"0\" y=\"1\" width=\"200\" height=\"10\" fill=\"#eef0f4\"/><rect x=\"0\" y=\"1\" width=\"{:.1}\" height=\"10\" fill=\"#b26a00\"/></svg></td><td>{}</td></tr>",
                esc(&c.cause),
                c.count,
                pct(c.share),
                c.share * 200.0,
                esc(&c.meaning)
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section>\n");
}

fn show(x: Option<i64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_else(|| "—".into())
}

fn unit(u: Unit) -> &'static str {
    match u {
        Unit::BusinessDays => "business days",
        Unit::CalendarDays => "calendar days",
    }
}

/// A histogram of `[value, count]` bins as bars, with the CDF as a line (right axis)
/// when `cdf`; values below `late_below` are drawn red.
fn histogram_svg(
    bins: &[[i64; 2]],
    xlabel: &str,
    late_below: Option<i64>,
    cdf: bool,
    w: f64,
    h: f64,
) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"hist\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"histogram\">"
    );
    if bins.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"10\" y=\"{:.0}\">no observations</text></svg>",
            h / 2.0
        );
        return svg;
    }
    let (ml, mr, mt, mb) = (44.0, if cdf { 40.0 } else { 10.0 }, 10.0, 30.0);
    let pw = w - ml - mr;
    let ph = h - mt - mb;
    let mut vmin = bins[0][0];
    let mut vmax = bins[bins.len() - 1][0];
    if let Some(z) = late_below {
        vmin = vmin.min(z);
        vmax = vmax.max(z);
    }
    let span = (vmax - vmin + 1) as f64;
    let bw = pw / span;
    let cmax = bins.iter().map(|b| b[1]).max().unwrap_or(1).max(1) as f64;
    let total: i64 = bins.iter().map(|b| b[1]).sum();
    let x_of = |v: i64| ml + (v - vmin) as f64 * bw;
    // Axes.
    let _ = write!(
        svg,
        "<line x1=\"{ml}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9aa1ad\"/><line x1=\"{ml}\" y1=\"{mt}\" x2=\"{ml}\" y2=\"{:.1}\" stroke=\"#9aa1ad\"/>",
        mt + ph,
        ml + pw,
        mt + ph,
        mt + ph
    );
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0</text>",
        ml - 4.0,
        mt + 8.0,
        cmax as i64,
        ml - 4.0,
        mt + ph
    );
    if let Some(z) = late_below {
        let x = x_of(z);
        if z > vmin {
            let _ = write!(
                svg,
                "<rect x=\"{ml}\" y=\"{mt}\" width=\"{:.1}\" height=\"{ph:.1}\" fill=\"#c62828\" fill-opacity=\"0.06\"/>",
                x - ml
            );
        }
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{mt}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#c62828\" stroke-dasharray=\"3 2\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" fill=\"#c62828\">deadline</text>",
            mt + ph,
            x + 3.0,
            mt + 9.0
        );
    }
    for [v, c] in bins {
        let bh = (*c as f64 / cmax) * ph;
        let late = late_below.is_some_and(|z| *v < z);
        let _ = write!(
            svg,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bh:.2}\" fill=\"{}\"><title>{v}: {c} runs</title></rect>",
            x_of(*v),
            mt + ph - bh,
            (bw - 0.5).max(0.8),
            if late { "#c62828" } else { "#2557a7" }
        );
    }
    if cdf && total > 0 {
        let mut acc = 0i64;
        let mut pts = String::new();
        for [v, c] in bins {
            acc += c;
            let y = mt + ph - (acc as f64 / total as f64) * ph;
            let _ = write!(pts, "{:.1},{y:.1} ", x_of(*v) + bw);
        }
        let _ = write!(
            svg,
            "<polyline class=\"cdf\" points=\"{}\" fill=\"none\" stroke=\"#b26a00\" stroke-width=\"1.5\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\">100%</text><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\">CDF</text>",
            pts.trim_end(),
            ml + pw + 4.0,
            mt + 8.0,
            ml + pw + 4.0,
            mt + ph / 2.0
        );
    }
    // X ticks: ends and zero.
    let mut ticks = vec![vmin, vmax];
    if vmin < 0 && vmax > 0 {
        ticks.push(0);
    }
    ticks.sort();
    ticks.dedup();
    for t in ticks {
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{t}</text>",
            x_of(t) + bw / 2.0,
            mt + ph + 13.0
        );
    }
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></svg>",
        ml + pw / 2.0,
        h - 3.0,
        esc(xlabel)
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
