#!/usr/bin/env python3
"""Check `onsim sweep --per-run` against its documentation and its own JSON.

    check_per_run.py ONSIM [SCENARIO]

Runs a small two-variant sweep with --per-run as Parquet and CSV, loads both with
polars, and checks that:
  - the columns, their order and their types are exactly those of the table in
    docs/per-run-schema.md (the `<KEY>` row standing for each --vary key), and the
    non-null columns have no nulls;
  - there is one row per replication and variant, in variant then run order;
  - the CSV holds the same table as the Parquet;
  - per variant, the outcome counts, critical-path causes, start-delay histogram and
    each slack's histogram and missing count equal the sweep's JSON.
Exits non-zero with a message on the first mismatch.
"""

import json
import pathlib
import re
import subprocess
import sys
import tempfile

import polars as pl

ROOT = pathlib.Path(__file__).resolve().parent.parent
HIST_RANGE = 400
RUNS = 3000
VARY = ["scenario.rules=r2021,r2024", "actors.reader_vendor.lead.mode=100,130"]


def fail(msg):
    print(f"check_per_run: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def documented_columns():
    """(column, type, nullable) rows of the table in docs/per-run-schema.md."""
    rows = []
    text = (ROOT / "docs/per-run-schema.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        m = re.match(r"^\| `([^`]+)` \| (\w+) \| (yes|no) \|", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3) == "yes"))
    if len(rows) < 10:
        fail("docs/per-run-schema.md: no column table found")
    return rows


def expected_schema(keys):
    out = []
    for name, typ, nullable in documented_columns():
        if name == "<KEY>":
            out.extend((k, typ, nullable) for k in keys)
        else:
            out.append((name, typ, nullable))
    return out


def hist(series):
    """Sparse [value, count] of the clamped non-null values, ascending."""
    s = series.drop_nulls().clip(-HIST_RANGE, HIST_RANGE)
    vc = s.value_counts().sort(s.name)
    return [[int(v), int(c)] for v, c in vc.iter_rows()]


def main():
    if len(sys.argv) < 2:
        fail("usage: check_per_run.py ONSIM [SCENARIO]")
    onsim = sys.argv[1]
    scenario = sys.argv[2] if len(sys.argv) > 2 else str(ROOT / "scenarios/sweeps/r2024-standard.toml")
    keys = [v.split("=", 1)[0] for v in VARY]
    with tempfile.TemporaryDirectory(prefix="onsim-per-run-") as d:
        d = pathlib.Path(d)
        args = [onsim, "sweep", scenario, "--runs", str(RUNS), "--seed", "3"]
        for v in VARY:
            args += ["--vary", v]
        subprocess.run(args + ["--out", str(d / "sweep.json"), "--per-run", str(d / "runs.parquet")], check=True)
        subprocess.run(args + ["--out", str(d / "sweep2.json"), "--per-run", str(d / "runs.csv")], check=True)
        report = json.loads((d / "sweep.json").read_text(encoding="utf-8"))
        if (d / "sweep2.json").read_bytes() != (d / "sweep.json").read_bytes():
            fail("the sweep JSON differs with --per-run .csv and .parquet")
        df = pl.read_parquet(d / "runs.parquet")
        csv_df = pl.read_csv(d / "runs.csv", schema=df.schema)

    # Columns, order, types, nulls.
    want = expected_schema(keys)
    got = [(n, str(t)) for n, t in df.schema.items()]
    if [(n, t) for n, t, _ in want] != got:
        fail(f"columns differ from docs/per-run-schema.md:\n  documented {[(n, t) for n, t, _ in want]}\n  in the file {got}")
    for name, _, nullable in want:
        if not nullable and df[name].null_count() > 0:
            fail(f"column {name} is documented non-null but has nulls")

    # Rows: one per replication and variant, in order.
    nv = len(report["variants"])
    if df.height != RUNS * nv:
        fail(f"{df.height} rows, expected {RUNS} runs x {nv} variants")
    want_order = [(v, r) for v in range(nv) for r in range(RUNS)]
    if list(zip(df["variant"].to_list(), df["run"].to_list())) != want_order:
        fail("rows are not in variant, run order")

    # CSV equals Parquet.
    if not df.equals(csv_df):
        fail("the CSV table differs from the Parquet table")

    # Agreement with the JSON.
    for vi, v in enumerate(report["variants"]):
        sub = df.filter(pl.col("variant") == vi)
        if sub["variant_label"].unique().to_list() != [v["label"]]:
            fail(f"variant {vi}: label differs from the JSON's {v['label']!r}")
        for k, val in v["settings"].items():
            if sub[k].unique().to_list() != [val]:
                fail(f"variant {vi}: column {k} is not {val!r}")
        counts = dict(sub.group_by("outcome").len().iter_rows())
        for o in v["outcomes"]:
            if counts.get(o["outcome"], 0) != o["count"]:
                fail(f"variant {vi}: outcome {o['outcome']}: {counts.get(o['outcome'], 0)} rows, JSON {o['count']}")
        causes = dict(sub.drop_nulls("cause").group_by("cause").len().iter_rows())
        if causes != {c["cause"]: c["count"] for c in v["critical_path"]["causes"]}:
            fail(f"variant {vi}: causes {causes} differ from the JSON")
        if hist(sub["start_delay_days"]) != v["start_delay"]["histogram"]:
            fail(f"variant {vi}: start-delay histogram differs from the JSON")
        if sub["start_delay_days"].null_count() != v["start_delay"]["never"]:
            fail(f"variant {vi}: never-online count differs from the JSON")
        for s in v["slack"]:
            col = "slack_" + s["id"].replace("-", "_")
            if hist(sub[col]) != s["histogram"]:
                fail(f"variant {vi}: {col} histogram differs from the JSON")
            if sub[col].null_count() != s["missing"]:
                fail(f"variant {vi}: {col} nulls {sub[col].null_count()}, JSON missing {s['missing']}")
        reported = {"slack_" + s["id"].replace("-", "_") for s in v["slack"]}
        for name, _, _ in want:
            if name.startswith("slack_") and name not in reported and sub[name].null_count() != sub.height:
                fail(f"variant {vi}: {name} has values but the JSON reports no such slack")
    flags = [n for n, _, _ in want if n.startswith("flag_")]
    print(f"check_per_run: ok: {df.height} rows x {df.width} columns, {nv} variants, "
          f"{len(flags)} flags ({sum(int(df[f].sum()) for f in flags)} set), CSV == Parquet, JSON agrees")


if __name__ == "__main__":
    main()
