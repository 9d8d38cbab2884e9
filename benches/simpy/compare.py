#!/usr/bin/env python3
"""Compare an onsim sweep with the SimPy model of the same scenario, statistically.

Usage:
  compare.py ONSIM.json SIMPY.json [--alpha 0.001] [--markdown]

ONSIM.json is `onsim sweep SCENARIO --runs N --seed S --out ONSIM.json` (format
onsim-sweep/1, first variant); SIMPY.json is `benches/simpy/model.py SCENARIO ...`
(format onsim-simpy/1). For every outcome either side produced, it reports both
proportions with Wilson 95% intervals and the p-value of a two-sided two-proportion
z-test (pooled variance). For the start-delay histogram (calendar days from the
designation date to the online start, runs that went online) it runs Pearson's
chi-square test of homogeneity on the 2 x K table, after joining adjacent delay bins
until every expected cell count is at least 5 (sparse tails go together). With the
random streams independent (ChaCha8 in onsim, Mersenne Twister here) only the
distributions can agree; a p-value below --alpha (default 0.001, chosen so that the
roughly ten tests of one comparison rarely flag by chance: about 1% of the time) means
the models differ.

Prints a table (plain text, or Markdown with --markdown). Exit 0 when every p >= alpha,
1 when any p < alpha, 2 on bad input (the message names the file and the field).
"""
import argparse
import json
import math
import sys

from scipy.stats import chi2_contingency, norm

Z95 = norm.ppf(0.975)


class InputError(Exception):
    pass


def wilson(k, n, z=Z95):
    """Wilson score interval for k successes out of n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_p(k1, n1, k2, n2):
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when both are 0 or 1)."""
    pool = (k1 + k2) / (n1 + n2)
    if pool in (0.0, 1.0):
        return 1.0, 0.0
    se = math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
    z = (k1 / n1 - k2 / n2) / se
    return 2 * norm.sf(abs(z)), z


def pool_bins(hist_a, hist_b, min_expected=5.0):
    """Join adjacent delay bins until every expected count of the 2 x K table is >= 5.

    Returns [(label, count_a, count_b)]. Bins are joined left to right; a short last
    group is folded into the one before it.
    """
    keys = sorted(set(hist_a) | set(hist_b))
    na, nb = sum(hist_a.values()), sum(hist_b.values())
    n = na + nb
    share = min(na, nb) / n

    def ok(a, b):
        return (a + b) * share >= min_expected

    groups = []
    cur = None
    for k in keys:
        a, b = hist_a.get(k, 0), hist_b.get(k, 0)
        cur = [k, k, a, b] if cur is None else [cur[0], k, cur[2] + a, cur[3] + b]
        if ok(cur[2], cur[3]):
            groups.append(cur)
            cur = None
    if cur is not None:
        if groups:
            g = groups[-1]
            groups[-1] = [g[0], cur[1], g[2] + cur[2], g[3] + cur[3]]
        else:
            groups.append(cur)
    out = []
    for lo, hi, a, b in groups:
        out.append((str(lo) if lo == hi else f"{lo}..{hi}", a, b))
    return out


def read_onsim(path):
    try:
        d = json.load(open(path))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read JSON ({e})")
    if d.get("format") != "onsim-sweep/1":
        raise InputError(f"{path}: format {d.get('format')!r}, expected onsim-sweep/1 "
                         "(`onsim sweep ... --format json`)")
    try:
        v = d["variants"][0]
        if len(d["variants"]) > 1:
            raise InputError(f"{path}: {len(d['variants'])} variants; compare one (no --vary)")
        outcomes = {o["outcome"]: int(o["count"]) for o in v["outcomes"]}
        hist = {int(x): int(c) for x, c in v["start_delay"]["histogram"]}
        return {"runs": int(v["runs"]), "outcomes": outcomes, "hist": hist,
                "seed": d.get("seed"), "label": "onsim"}
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise InputError(f"{path}: missing or malformed field ({e!r}) in variants[0]")


def read_simpy(path):
    try:
        d = json.load(open(path))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read JSON ({e})")
    if d.get("format") != "onsim-simpy/1":
        raise InputError(f"{path}: format {d.get('format')!r}, expected onsim-simpy/1 "
                         "(benches/simpy/model.py output)")
    try:
        outcomes = {k: int(c) for k, c in d["outcomes"].items()}
        hist = {int(x): int(c) for x, c in d["start_delay"]["histogram"]}
        return {"runs": int(d["runs"]), "outcomes": outcomes, "hist": hist,
                "seed": d.get("seed"), "label": "SimPy"}
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{path}: missing or malformed field ({e!r})")


def compare(a, b):
    """Rows of the outcome table and the chi-square result."""
    rows = []
    names = [k for k in a["outcomes"] if a["outcomes"][k] or b["outcomes"].get(k, 0)]
    names += [k for k in b["outcomes"] if k not in a["outcomes"] and b["outcomes"][k]]
    for k in names:
        ka, kb = a["outcomes"].get(k, 0), b["outcomes"].get(k, 0)
        p, z = two_proportion_p(ka, a["runs"], kb, b["runs"])
        rows.append({"outcome": k, "a": (ka, ka / a["runs"], wilson(ka, a["runs"])),
                     "b": (kb, kb / b["runs"], wilson(kb, b["runs"])), "z": z, "p": p})
    bins = pool_bins(a["hist"], b["hist"])
    if len(bins) >= 2:
        chi2, p, dof, _ = chi2_contingency([[x[1] for x in bins], [x[2] for x in bins]],
                                           correction=False)
    else:
        chi2, p, dof = 0.0, 1.0, 0
    return rows, {"bins": bins, "chi2": chi2, "dof": dof, "p": p}


def fmt_p(p):
    return "1" if p >= 0.9995 else (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}")


def render(a, b, rows, chi, alpha, markdown):
    na, nb = a["runs"], b["runs"]
    lines = []
    if markdown:
        lines.append(f"| outcome | onsim ({na:,} runs) [95% CI] | SimPy ({nb:,} runs) "
                     "[95% CI] | difference | z | p |")
        lines.append("|---|---:|---:|---:|---:|---:|")
    else:
        lines.append(f"{'outcome':<27} {'onsim (' + format(na, ',') + ')':>30} "
                     f"{'SimPy (' + format(nb, ',') + ')':>30} {'diff':>8} {'z':>6} {'p':>8}")
    for r in rows:
        (_, pa, (la, ha)), (_, pb, (lb, hb)) = r["a"], r["b"]
        ca = f"{pa:.4f} [{la:.4f}, {ha:.4f}]"
        cb = f"{pb:.4f} [{lb:.4f}, {hb:.4f}]"
        d = f"{pa - pb:+.4f}"
        if markdown:
            lines.append(f"| {r['outcome']} | {ca} | {cb} | {d} | {r['z']:+.2f} | "
                         f"{fmt_p(r['p'])} |")
        else:
            lines.append(f"{r['outcome']:<27} {ca:>30} {cb:>30} {d:>8} {r['z']:+6.2f} "
                         f"{fmt_p(r['p']):>8}")
    lines.append("")
    head = (f"Start delay (calendar days, runs online): chi-square = {chi['chi2']:.2f}, "
            f"{chi['dof']} degrees of freedom, p = {fmt_p(chi['p'])}; bins:")
    lines.append(head)
    lines.append("")
    if markdown:
        lines.append("| delay (days) | onsim | SimPy | onsim share | SimPy share |")
        lines.append("|---|---:|---:|---:|---:|")
    ta, tb = sum(x[1] for x in chi["bins"]), sum(x[2] for x in chi["bins"])
    for label, x, y in chi["bins"]:
        if markdown:
            lines.append(f"| {label} | {x:,} | {y:,} | {x / ta:.4f} | {y / tb:.4f} |")
        else:
            lines.append(f"  {label:>8}  {x:>10,}  {y:>9,}   {x / ta:.4f}  {y / tb:.4f}")
    worst = min([r["p"] for r in rows] + [chi["p"]])
    lines.append("")
    verdict = ("AGREE" if worst >= alpha else "DISAGREE")
    lines.append(f"{verdict}: smallest p = {fmt_p(worst)} (threshold {alpha}).")
    return "\n".join(lines), worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("onsim", help="onsim sweep JSON")
    ap.add_argument("simpy", help="benches/simpy/model.py JSON")
    ap.add_argument("--alpha", type=float, default=0.001)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if not 0.0 < a.alpha < 1.0:
        print("compare.py: --alpha must be between 0 and 1", file=sys.stderr)
        sys.exit(2)
    try:
        x, y = read_onsim(a.onsim), read_simpy(a.simpy)
    except InputError as e:
        print(f"compare.py: {e}", file=sys.stderr)
        sys.exit(2)
    rows, chi = compare(x, y)
    text, worst = render(x, y, rows, chi, a.alpha, a.markdown)
    print(text)
    sys.exit(0 if worst >= a.alpha else 1)


if __name__ == "__main__":
    main()
