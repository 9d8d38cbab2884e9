//! Merging shards: every shard's JSON carries raw counts, which are rebuilt into
//! [`Accum`]s, checked to belong to one sweep, and summed into exactly what the
//! unsharded sweep reports.

use super::cause::{Cause, CAUSES};
use super::hist::Hist;
use super::measure::{slack_def, Accum};
use super::paired::{self, PairCounts};
use super::report::{variant_report, SweepReport, VariantMeta, VariantReport};
use super::{FORMAT, OUTCOMES};

/// Rebuild the counts of a variant from its report (for merging shards).
pub fn accum_from_report(v: &VariantReport) -> Result<(VariantMeta, Accum), String> {
    let mut slack_ids = Vec::new();
    for s in &v.slack {
        slack_ids.push(
            slack_def(&s.id)
                .ok_or_else(|| format!("unknown slack id {:?}", s.id))?
                .id,
        );
    }
    let mut a = Accum::new(slack_ids.len());
    a.runs = v.runs;
    for o in &v.outcomes {
        let i = OUTCOMES
            .iter()
            .position(|x| x.as_str() == o.outcome)
            .ok_or_else(|| format!("unknown outcome {:?}", o.outcome))?;
        a.outcomes[i] += o.count;
    }
    a.delay = Hist::from_sparse(&v.start_delay.histogram)?;
    a.never_online = v.start_delay.never;
    for (i, s) in v.slack.iter().enumerate() {
        a.slack[i] = Hist::from_sparse(&s.histogram)?;
        a.slack_missing[i] = s.missing;
    }
    for c in &v.critical_path.causes {
        let cause = Cause::parse(&c.cause).ok_or_else(|| format!("unknown cause {:?}", c.cause))?;
        let i = CAUSES.iter().position(|x| *x == cause).unwrap_or(0);
        a.causes[i] += c.count;
    }
    if a.outcomes.iter().sum::<u64>() != a.runs {
        return Err(format!(
            "variant {:?}: outcome counts do not add up to its runs",
            v.label
        ));
    }
    Ok((
        VariantMeta {
            label: v.label.clone(),
            settings: v.settings.clone(),
            rules: v.rules.clone(),
            bureau: v.bureau.clone(),
            designation: v.designation,
            slack_ids,
            deviations: v.deviations.clone(),
        },
        a,
    ))
}

/// Merge shard reports into the report of the unsharded sweep. Refuses shards of
/// different sweeps, and missing or duplicated shards.
pub fn merge(files: &[(String, SweepReport)]) -> Result<SweepReport, String> {
    let Some((first_name, first)) = files.first() else {
        return Err("no shard files given".into());
    };
    if first.format != FORMAT {
        return Err(format!(
            "{first_name}: not an onsim sweep file (format {:?}, expected {FORMAT:?})",
            first.format
        ));
    }
    let Some(count) = first.shard.map(|s| s.count) else {
        return Err(format!(
            "{first_name}: not a shard (it has no \"shard\"); it is already a whole sweep"
        ));
    };
    let mut seen: Vec<Option<&str>> = vec![None; count as usize];
    for (name, r) in files {
        let same = |what: &str, a: String, b: String| {
            if a == b {
                Ok(())
            } else {
                Err(format!(
                    "{name}: {what} {b} differs from {first_name}'s {a}; shards of different sweeps do not merge"
                ))
            }
        };
        same("format", first.format.clone(), r.format.clone())?;
        same(
            "onsim version",
            first.onsim_version.clone(),
            r.onsim_version.clone(),
        )?;
        same(
            "scenario fingerprint",
            first.scenario.fingerprint.clone(),
            r.scenario.fingerprint.clone(),
        )?;
        same(
            "scenario file",
            first.scenario.file.clone(),
            r.scenario.file.clone(),
        )?;
        same("seed", first.seed.to_string(), r.seed.to_string())?;
        same("run count", first.runs.to_string(), r.runs.to_string())?;
        same("--vary", first.vary.join(" "), r.vary.join(" "))?;
        if r.invalid_variants != first.invalid_variants {
            return Err(format!(
                "{name}: different invalid variants than {first_name}"
            ));
        }
        let s = r
            .shard
            .ok_or_else(|| format!("{name}: not a shard (it has no \"shard\")"))?;
        same("shard count", count.to_string(), s.count.to_string())?;
        if s.index >= count {
            return Err(format!(
                "{name}: shard {}/{} is out of range",
                s.index, s.count
            ));
        }
        if let Some(other) = seen[s.index as usize] {
            return Err(format!(
                "{name}: shard {}/{count} is also in {other}; each shard must be given once",
                s.index
            ));
        }
        seen[s.index as usize] = Some(name.as_str());
        if r.variants.len() != first.variants.len() {
            return Err(format!("{name}: different variants than {first_name}"));
        }
        if s.len(r.runs) != r.variants.first().map_or(0, |v| v.runs) {
            return Err(format!(
                "{name}: shard {}/{count} should hold {} runs, it holds {}",
                s.index,
                s.len(r.runs),
                r.variants.first().map_or(0, |v| v.runs)
            ));
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing shard(s) {}: all {count} shards are needed for an exact merge",
            missing.join(", ")
        ));
    }
    let mut variants = Vec::new();
    for (vi, v0) in first.variants.iter().enumerate() {
        let (meta, mut total) = accum_from_report(v0).map_err(|e| format!("{first_name}: {e}"))?;
        for (name, r) in &files[1..] {
            let (m, a) = accum_from_report(&r.variants[vi]).map_err(|e| format!("{name}: {e}"))?;
            if m != meta {
                return Err(format!(
                    "{name}: variant {} differs from {first_name}'s {}",
                    m.label, meta.label
                ));
            }
            total.merge(&a);
        }
        variants.push(variant_report(&meta, &total));
    }
    let paired = match &first.paired {
        None => None,
        Some(p0) => {
            let mut counts: Vec<PairCounts> =
                p0.comparisons.iter().map(|c| c.counts.clone()).collect();
            for (name, r) in &files[1..] {
                let p = r
                    .paired
                    .as_ref()
                    .filter(|p| {
                        p.outcomes == p0.outcomes
                            && p.reference == p0.reference
                            && p.comparisons.len() == p0.comparisons.len()
                    })
                    .ok_or_else(|| format!("{name}: different --paired than {first_name}"))?;
                for (total, c) in counts.iter_mut().zip(&p.comparisons) {
                    total.merge(&c.counts);
                }
            }
            let mut labels = vec![p0.reference.clone()];
            labels.extend(p0.comparisons.iter().map(|c| c.variant.clone()));
            counts.insert(0, PairCounts::default());
            Some(paired::report(&p0.outcomes, &labels, &counts))
        }
    };
    if first.paired.is_none() && files.iter().any(|(_, r)| r.paired.is_some()) {
        return Err(format!("{first_name}: no --paired, unlike other shards"));
    }
    Ok(SweepReport {
        shard: None,
        variants,
        paired,
        ..first.clone()
    })
}
