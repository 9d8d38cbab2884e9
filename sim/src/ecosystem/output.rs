//! What an ecosystem run writes (docs/ecosystem.md, "Outputs"): the per-clinic table
//! (`clinics.parquet`, `clinics.csv`), the per-resource daily series
//! (`resources.csv`) and the summary (`summary.json`).

use chrono::NaiveDate;
use serde::Serialize;

use fakes::ecosystem::{queue_lengths, Service};

use super::driver::EcoRun;
use super::file::Ecosystem;
use super::resources::ResourceId;
use super::table::{Column, Table, Values};
use crate::scenario::Outcome;

/// `onsim.format` of clinics.parquet and the `format` of summary.json.
pub const CLINICS_FORMAT: &str = "onsim-ecosystem-clinics/1";
pub const SUMMARY_FORMAT: &str = "onsim-ecosystem/1";

/// The per-clinic table; columns as in docs/ecosystem.md.
pub fn clinics_table(eco: &Ecosystem, run: &EcoRun) -> Table {
    let s = &eco.spec;
    let c = &run.clinics;
    let i32s = |f: &dyn Fn(&super::driver::ClinicResult) -> Option<i64>| {
        Values::I32(c.iter().map(|r| f(r).map(|x| x as i32)).collect())
    };
    let dates = |f: &dyn Fn(&super::driver::ClinicResult) -> Option<NaiveDate>| {
        Values::Date(c.iter().map(f).collect())
    };
    let strs =
        |f: &dyn Fn(&super::driver::ClinicResult) -> String| Values::Str(c.iter().map(f).collect());
    let col = |name, nullable, values| Column {
        name,
        nullable,
        values,
    };
    Table {
        columns: vec![
            col("clinic", false, i32s(&|r| Some(i64::from(r.spec.index)))),
            col("seed", false, Values::U64(vec![run.seed; c.len()])),
            col("designation", false, dates(&|r| Some(r.spec.designation))),
            col(
                "prefecture",
                false,
                i32s(&|r| Some(i64::from(r.spec.prefecture.code()))),
            ),
            col("bureau", false, strs(&|r| r.spec.bureau.id().to_string())),
            col("kind", false, strs(&|r| kind_str(r.spec.kind).to_string())),
            col(
                "reader_maker",
                false,
                strs(&|r| s.reader_makers[r.spec.maker].name.clone()),
            ),
            col(
                "system_vendor",
                false,
                strs(&|r| s.system_vendors[r.spec.vendor].name.clone()),
            ),
            col(
                "carrier",
                false,
                strs(&|r| s.carriers[r.spec.carrier].name.clone()),
            ),
            col(
                "order_margin_days",
                false,
                i32s(&|r| Some(r.spec.order_margin)),
            ),
            col("outcome", false, strs(&|r| r.outcome.as_str().to_string())),
            col(
                "on_time",
                false,
                i32s(&|r| Some(i64::from(r.outcome == Outcome::OnlineOnDesignationDay))),
            ),
            col("online_start", true, dates(&|r| r.online_start)),
            col("delay_days", true, i32s(&|r| r.delay_days())),
            col(
                "installation_planned",
                true,
                dates(&|r| r.installation_planned),
            ),
            col("reader_ordered", true, dates(&|r| r.reader_ordered)),
            col("reader_delivered", true, dates(&|r| r.reader_delivered)),
            col("answer_received", true, dates(&|r| r.answer_received)),
            col("account_ready", true, dates(&|r| r.account_ready)),
            col("line_ready", true, dates(&|r| r.line_ready)),
            col("installation_done", true, dates(&|r| r.installation_done)),
            col("wait_reader_days", false, i32s(&|r| Some(r.waits.reader))),
            col("wait_answer_days", false, i32s(&|r| Some(r.waits.answer))),
            col("wait_account_days", false, i32s(&|r| Some(r.waits.account))),
            col("wait_line_days", false, i32s(&|r| Some(r.waits.line))),
            col("wait_crews_days", false, i32s(&|r| Some(r.waits.crews))),
            col(
                "crew_visits",
                false,
                i32s(&|r| Some(i64::from(r.waits.visits))),
            ),
            col("events", false, i32s(&|r| Some(r.events_handled as i64))),
        ],
    }
}

fn kind_str(k: fakes::schedule::ClinicKind) -> &'static str {
    use fakes::schedule::ClinicKind::*;
    match k {
        Medical => "medical",
        Dental => "dental",
        Pharmacy => "pharmacy",
        MedicalDental => "medical-dental",
    }
}

/// One resource's figures over the run.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceSummary {
    pub resource: String,
    pub kind: &'static str,
    pub requests: u64,
    /// Requests never served within ten years (a resource with no capacity left).
    pub never_served: u64,
    pub mean_wait_days: f64,
    pub p95_wait_days: i64,
    pub max_wait_days: i64,
    /// Mean of the end-of-day queue over the active span (first request to last
    /// service).
    pub mean_queue: f64,
    pub max_queue: u32,
    /// Units used / units offered over the active span (0 when nothing offered).
    pub utilisation: f64,
    pub active_from: Option<NaiveDate>,
    pub active_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub format: &'static str,
    pub ecosystem: String,
    pub file: String,
    pub seed: u64,
    pub clinics: u64,
    pub events_handled: u64,
    pub outcomes: Vec<(String, u64)>,
    /// Share online on the designation day.
    pub on_time: f64,
    /// Mean days from designation to online start, over clinics that went online.
    pub mean_delay_days: f64,
    pub never_online: u64,
    pub invariants_broken: u64,
    pub series_from: NaiveDate,
    pub series_until: NaiveDate,
    pub resources: Vec<ResourceSummary>,
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The daily series CSV and the per-resource summaries.
pub fn resources(eco: &Ecosystem, run: &mut EcoRun) -> (Vec<u8>, Vec<ResourceSummary>) {
    let origin = run.origin;
    let days = ((run.end - origin).num_days() + 1).max(1) as usize;
    let mut csv = String::from("date,resource,kind,capacity,used,queue,utilisation\n");
    let mut sums = Vec::new();
    // Every resource has a row per day: the dates are formatted once.
    let day_text: Vec<String> = (0..days)
        .map(|i| (origin + chrono::Duration::days(i as i64)).to_string())
        .collect();
    for id in run.resources.ids() {
        let services: Vec<Service> = run.resources.services(id).to_vec();
        if services.is_empty() {
            continue;
        }
        let name = id.name(eco);
        let far = fakes::process::far_future();
        let queue = queue_lengths(&services, origin, days);
        let mut used = vec![0u64; days];
        for s in &services {
            let i = (s.served - origin).num_days();
            if s.served < far && i >= 0 && (i as usize) < days {
                used[i as usize] += 1;
            }
        }
        let first = services
            .iter()
            .map(|s| s.requested)
            .min()
            .expect("non-empty");
        let last = services
            .iter()
            .filter(|s| s.served < far)
            .map(|s| s.served)
            .max()
            .unwrap_or(first);
        let (mut offered, mut taken, mut qsum, mut qn) = (0u64, 0u64, 0u64, 0u64);
        for (i, (q, u)) in queue.iter().zip(&used).enumerate() {
            let day = origin + chrono::Duration::days(i as i64);
            let cap = run.resources.capacity_on(id, day, origin);
            use std::fmt::Write as _;
            // Writing into a String cannot fail.
            let _ = write!(csv, "{},{name},{},{cap},{u},{q},", day_text[i], id.kind());
            if cap > 0 {
                let _ = write!(csv, "{:.4}", *u as f64 / cap as f64);
            }
            csv.push('\n');
            if day >= first && day <= last {
                offered += cap;
                taken += u;
                qsum += u64::from(*q);
                qn += 1;
            }
        }
        // A reader maker's stock is offered before the span starts.
        if let ResourceId::Reader(_) = id {
            offered = 0;
            for i in 0..days {
                let day = origin + chrono::Duration::days(i as i64);
                if day <= last {
                    offered += run.resources.capacity_on(id, day, origin);
                }
            }
        }
        let mut waits: Vec<i64> = services
            .iter()
            .filter(|s| s.served < far)
            .map(|s| s.wait_days())
            .collect();
        waits.sort_unstable();
        let served = waits.len() as u64;
        let p95 = if waits.is_empty() {
            0
        } else {
            waits[((waits.len() as f64 * 0.95).ceil() as usize).clamp(1, waits.len()) - 1]
        };
        sums.push(ResourceSummary {
            resource: name,
            kind: id.kind(),
            requests: services.len() as u64,
            never_served: services.len() as u64 - served,
            mean_wait_days: round(if served > 0 {
                waits.iter().sum::<i64>() as f64 / served as f64
            } else {
                0.0
            }),
            p95_wait_days: p95,
            max_wait_days: waits.last().copied().unwrap_or(0),
            mean_queue: round(if qn > 0 { qsum as f64 / qn as f64 } else { 0.0 }),
            max_queue: queue.iter().copied().max().unwrap_or(0),
            utilisation: round(if offered > 0 {
                taken as f64 / offered as f64
            } else {
                0.0
            }),
            active_from: Some(first),
            active_until: Some(last),
        });
    }
    (csv.into_bytes(), sums)
}

/// The summary of a run.
pub fn summary(eco: &Ecosystem, run: &EcoRun, resources: Vec<ResourceSummary>) -> Summary {
    let c = &run.clinics;
    let mut outcomes: Vec<(String, u64)> = Vec::new();
    for r in c {
        let k = r.outcome.as_str().to_string();
        match outcomes.iter_mut().find(|(o, _)| *o == k) {
            Some((_, n)) => *n += 1,
            None => outcomes.push((k, 1)),
        }
    }
    outcomes.sort();
    let on_time = c
        .iter()
        .filter(|r| r.outcome == Outcome::OnlineOnDesignationDay)
        .count();
    let delays: Vec<i64> = c.iter().filter_map(|r| r.delay_days()).collect();
    Summary {
        format: SUMMARY_FORMAT,
        ecosystem: eco.spec.ecosystem.name.clone(),
        file: eco.file.clone(),
        seed: run.seed,
        clinics: c.len() as u64,
        events_handled: run.events_handled,
        outcomes,
        on_time: round(on_time as f64 / c.len().max(1) as f64),
        mean_delay_days: round(if delays.is_empty() {
            0.0
        } else {
            delays.iter().sum::<i64>() as f64 / delays.len() as f64
        }),
        never_online: (c.len() - delays.len()) as u64,
        invariants_broken: c.iter().filter(|r| !r.broken.is_empty()).count() as u64,
        series_from: run.origin,
        series_until: run.end,
        resources,
    }
}
