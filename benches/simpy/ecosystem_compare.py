#!/usr/bin/env python3
"""Compare onsim's ecosystem runs with the SimPy model's over replications.

Usage: ecosystem_compare.py SIMPY.json ONSIM_DIR... [--md FILE]
SIMPY.json is ecosystem.py's output (several seeds); each ONSIM_DIR is an
`onsim ecosystem --out` folder (one seed). For each key output — share on time, mean
delay, mean days waited per clinic at each kind of resource — it prints both models'
means over their replications with 95 % intervals, the difference and its interval,
and whether they agree: |difference| <= 3 standard errors of the difference (Welch;
about 99.7 %, so that six comparisons rarely fail by chance). Exit 1 if any disagree.
"""
import argparse
import csv
import json
import math
import statistics
import sys

KINDS = ("reader", "answer", "account", "line", "crews")


def onsim_run(d):
    with open(f"{d}/clinics.csv") as f:
        rows = list(csv.DictReader(f))
    n = len(rows)
    delays = [int(r["delay_days"]) for r in rows if r["delay_days"] != ""]
    out = {
        "on_time": sum(r["on_time"] == "1" for r in rows) / n,
        "mean_delay_days": statistics.fmean(delays) if delays else 0.0,
    }
    for k in KINDS:
        out[f"wait_{k}"] = sum(int(r[f"wait_{k}_days"]) for r in rows) / n
    return out


def simpy_run(r):
    out = {"on_time": r["on_time"], "mean_delay_days": r["mean_delay_days"]}
    for k in KINDS:
        out[f"wait_{k}"] = r["wait_per_clinic"][k]
    return out


def mean_se(xs):
    m = statistics.fmean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("inf")
    return m, se


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("simpy")
    ap.add_argument("onsim", nargs="+")
    ap.add_argument("--md")
    a = ap.parse_args()
    with open(a.simpy) as f:
        sim = [simpy_run(r) for r in json.load(f)["runs"]]
    ons = [onsim_run(d) for d in a.onsim]
    lines = ["| output | onsim (mean ± 95 %) | SimPy (mean ± 95 %) | difference ± 95 % | agree |",
             "|---|---:|---:|---:|:---:|"]
    ok = True
    for key in ["on_time", "mean_delay_days"] + [f"wait_{k}" for k in KINDS]:
        mo, so = mean_se([r[key] for r in ons])
        ms, ss = mean_se([r[key] for r in sim])
        d = mo - ms
        sd = math.hypot(so, ss)
        agree = abs(d) <= 3 * sd or (sd == 0 and d == 0)
        ok &= agree
        lines.append(f"| {key} | {mo:.4f} ± {1.96 * so:.4f} | {ms:.4f} ± {1.96 * ss:.4f} | "
                     f"{d:+.4f} ± {1.96 * sd:.4f} | {'yes' if agree else '**no**'} |")
    lines.append("")
    lines.append(f"onsim: {len(ons)} replications; SimPy: {len(sim)} replications "
                 "(one replication = one whole ecosystem run of its seed).")
    text = "\n".join(lines)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text + "\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
