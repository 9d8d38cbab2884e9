//! `onsim ecosystem FILE --out DIR`: many clinics competing for shared capacity
//! (docs/ecosystem.md). Writes `clinics.parquet`, `clinics.csv`, `resources.csv` and
//! `summary.json` into DIR, each atomically. Exit 0; 1 when a clinic's run broke one
//! of onsim's invariants; 2 on a bad file (file:line:column: field: message).

use std::path::PathBuf;

use clap::Args;

use crate::ecosystem::{driver, file, output};
use crate::error::{CliError, CmdResult, Outcome};
use crate::output::write_atomic;

#[derive(Debug, Args)]
pub struct EcosystemArgs {
    /// The ecosystem file (TOML; schema in docs/ecosystem.md).
    pub file: PathBuf,
    /// Master seed (default: the file's `ecosystem.seed`). Same file and seed, same bytes.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Folder for clinics.parquet, clinics.csv, resources.csv and summary.json.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print the simulation's own time (reading the file and writing the outputs
    /// excluded) to stderr as `simulation_seconds=X`, for scripts/bench-ecosystem.
    /// Not in any output file: the files stay byte-identical.
    #[arg(long, hide = true)]
    pub timing: bool,
}

pub fn run(a: EcosystemArgs) -> CmdResult {
    let eco = file::load(&a.file).map_err(|e| CliError::new(e.to_string()))?;
    let seed = a.seed.unwrap_or(eco.spec.ecosystem.seed);
    let (t0, c0) = (std::time::Instant::now(), thread_cpu_seconds());
    let mut run = driver::run(&eco, seed);
    if a.timing {
        eprintln!("simulation_seconds={:.6}", t0.elapsed().as_secs_f64());
        if let (Some(c0), Some(c1)) = (c0, thread_cpu_seconds()) {
            eprintln!("simulation_cpu_seconds={:.6}", c1 - c0);
        }
    }
    let table = output::clinics_table(&eco, &run);
    let fail = |what: &str, e: String| CliError::new(format!("{what}: {e}"));
    let parquet = table
        .parquet("onsim_ecosystem_clinics", output::CLINICS_FORMAT)
        .map_err(|e| fail("clinics.parquet", e))?;
    let csv = table.csv().map_err(|e| fail("clinics.csv", e))?;
    let (series, resources) = output::resources(&eco, &mut run);
    let summary = output::summary(&eco, &run, resources);
    let mut json =
        serde_json::to_vec_pretty(&summary).map_err(|e| fail("summary.json", e.to_string()))?;
    json.push(b'\n');
    write_atomic(&a.out.join("clinics.parquet"), &parquet)?;
    write_atomic(&a.out.join("clinics.csv"), &csv)?;
    write_atomic(&a.out.join("resources.csv"), &series)?;
    write_atomic(&a.out.join("summary.json"), &json)?;
    println!(
        "{}: {} clinics, seed {seed}: {:.1}% online on the designation day, mean delay {:.2} days, {} never online; wrote {}",
        eco.spec.ecosystem.name,
        summary.clinics,
        summary.on_time * 100.0,
        summary.mean_delay_days,
        summary.never_online,
        a.out.display()
    );
    for r in &run.clinics {
        for b in &r.broken {
            eprintln!("clinic {}: invariant broken: {b}", r.spec.index);
        }
    }
    Ok(if summary.invariants_broken > 0 {
        Outcome::Failed
    } else {
        Outcome::Passed
    })
}

/// CPU time of this thread (`CLOCK_THREAD_CPUTIME_ID`), which other work on the
/// machine does not inflate as it does wall time; `None` where there is no such clock.
fn thread_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec through a valid pointer.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
    }
    #[cfg(not(unix))]
    {
        None
    }
}
