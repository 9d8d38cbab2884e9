#!/usr/bin/env python3
"""Differential check of `onsim holidays` against PyPI's `holidays` package.

Usage: check_holidays.py ONSIM_BINARY [FROM TO]
Every date in 1955–2027 must agree. Names are not compared (the two sources name
substitute and citizens' holidays differently); dates are the contract.
"""
import csv
import io
import subprocess
import sys

import holidays

onsim = sys.argv[1]
first = int(sys.argv[2]) if len(sys.argv) > 2 else 1955
last = int(sys.argv[3]) if len(sys.argv) > 3 else 2027

out = subprocess.run(
    [onsim, "holidays", "--from", str(first), "--to", str(last)],
    check=True, capture_output=True, text=True,
).stdout
rows = list(csv.DictReader(io.StringIO(out)))
ours = {r["date"] for r in rows}
theirs = set()
for y in range(first, last + 1):
    theirs |= {d.isoformat() for d in holidays.JP(years=y)}

missing = sorted(theirs - ours)
extra = sorted(ours - theirs)
for d in missing:
    print(f"missing in onsim: {d}")
for d in extra:
    print(f"extra in onsim:   {d}")
years = last - first + 1
failed = sum(1 for y in range(first, last + 1)
             if any(d.startswith(str(y)) for d in missing + extra))
print(f"holidays: compared {len(ours)} onsim dates with {len(theirs)} from holidays {holidays.__version__}")
print(f"{years - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
