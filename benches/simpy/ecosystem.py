#!/usr/bin/env python3
"""onsim's ecosystem mode re-modelled in SimPy, for an honest cross-check.

Written from the semantics documented in docs/ecosystem.md (the gates, the resources,
first come first served), on top of the single-clinic SimPy model in model.py (each
clinic is one `model.World`, written from the actors' documented rules). The shared
resources are SimPy's own: a reader maker is a `simpy.Container` of readers filled
by a production process (opening stock, a lot on each 1st), a daily capacity is a
`simpy.Container` of slots that a process empties and refills at 00:00 of every open
day; a request is a `get(1)`, which SimPy serves first come, first served. The
population is drawn with Python's own `random` (Mersenne Twister), so the clinics
differ from onsim's: the two models agree in distribution, not clinic by clinic.

Usage:
  ecosystem.py FILE.toml --schedules DIR --holidays holidays.csv [--seed 1]
DIR holds `onsim schedule --designation D --rules r2024 --format json` as D.json for
each designation month. Prints one JSON object (share on time, mean delay, mean waits
per resource kind, seconds). Exit 2 on input it does not model (named).

Scope: r2024 only, one institution code per clinic (no medical-dental), no faults,
no `order_margin` other than a fixed one, default `[actors]` except what model.py
reads.

Semantics (docs/ecosystem.md, "Gates"):
 1. Reader maker: the first ReaderOrder of a clinic reaches its maker when delivered
    to the reader vendor; it waits for a unit (FIFO); the order then reaches the
    vendor on the day served at the same time of day, and the vendor's lead is the
    maker's `shipping` (default uniform 3-7).
 2. Installer crews: every InstallationDay visit reaches its vendor's crews in the
    clinic's region when delivered; it waits for a slot (slots: crews_per_day x factor
    of the windows, floored, on open days).
 3. Bureau answers, portal accounts, line openings: asked when the actor decides —
    the request reaches the resource at 00:00 of the dispatch day (bureau), the day
    the account would be ready (implementing body), the day the line would be ready
    (carrier, whose lead is the carrier's `lead`, default uniform 10-30); the answer,
    account or line reaches the clinic as many days later as the request waited.
 4. Resources are counted from the origin: the earliest designation, order date or
    reception request of any clinic; the maker's opening stock is there on the origin.
 5. A clinic's messages after its horizon (designation + 6 months) are not handled.
"""
import argparse
import json
import math
import os
import random
import statistics
import sys
import time
import tomllib
from datetime import date, timedelta

import simpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model  # noqa: E402
from model import MIN_PER_DAY, OFFICE_OPENS, ModelError, Dist  # noqa: E402

BUREAUS = ("hokkaido", "tohoku", "kanto-shinetsu", "tokai-hokuriku", "kinki",
           "chugoku-shikoku", "shikoku", "kyushu")
# JIS prefecture codes per bureau (地方厚生局の管轄), as in fakes/src/codes.rs.
JURISDICTION = {
    "hokkaido": [1], "tohoku": [2, 3, 4, 5, 6, 7],
    "kanto-shinetsu": [8, 9, 10, 11, 12, 13, 14, 15, 19, 20],
    "tokai-hokuriku": [16, 17, 21, 22, 23, 24], "kinki": [18, 25, 26, 27, 28, 29, 30],
    "chugoku-shikoku": [31, 32, 33, 34, 35], "shikoku": [36, 37, 38, 39],
    "kyushu": [40, 41, 42, 43, 44, 45, 46, 47],
}
REGION_OF = {p: BUREAUS.index(b) for b, ps in JURISDICTION.items() for p in ps}


def factor(windows, d):
    f = 1.0
    for w in windows:
        if w["from"] <= d <= w["until"]:
            f *= w["factor"]
    return f


class Eco:
    """The shared resources, as SimPy containers."""

    def __init__(self, env, spec, cal, origin, end, base):
        self.env, self.cal, self.origin, self.base = env, cal, origin, base
        self.waits = dict.fromkeys(("reader", "answer", "account", "line", "crews"), 0)
        self.makers = []
        for m in spec["reader_maker"]:
            c = simpy.Container(env, init=m["stock"]) if m["stock"] > 0 else simpy.Container(env)
            self.makers.append(c)
            env.process(self.produce(c, m["monthly"], m.get("windows", []), end))
        self.crews = [[self.daily(n, v.get("windows", []), end) for n in per]
                      for v, per in zip(spec["system_vendor"], spec["_crews"])]
        self.lines = [[self.daily(n, c.get("windows", []), end) for n in per]
                      for c, per in zip(spec["carrier"], spec["_openings"])]
        self.answers = [self.daily(n, spec["bureaus"].get("windows", []), end)
                        for n in spec["_answers"]]
        ib = spec["implementing_body"]
        self.accounts = self.daily(ib["accounts_per_day"], ib.get("windows", []), end)

    def t(self, d, minute):
        return (d - self.base).days * MIN_PER_DAY + minute

    def produce(self, c, monthly, windows, end):
        d = model.add_months(self.origin.replace(day=1), 1)
        while d <= end:
            yield self.env.timeout(self.t(d, 0) - self.env.now)
            lot = math.floor(monthly * factor(windows, d))
            if lot > 0:
                yield c.put(lot)
            d = model.add_months(d, 1)

    def daily(self, per_day, windows, end):
        c = simpy.Container(self.env)
        self.env.process(self.refill(c, per_day, windows, end))
        return c

    def refill(self, c, per_day, windows, end):
        d = self.origin
        while d <= end:
            yield self.env.timeout(max(0, self.t(d, 0) - self.env.now))
            if c.level > 0:
                yield c.get(c.level)
            if self.cal.is_open(d):
                n = math.floor(per_day * factor(windows, d))
                if n > 0:
                    yield c.put(n)
            d += timedelta(days=1)


class Clinic(model.World):
    """One clinic: model.World with its messages through the shared resources."""

    def __init__(self, env, cfg, seeds, eco, maker, vendor, carrier, region):
        super().__init__(env, cfg, seeds)
        self.eco, self.maker, self.vendor, self.carrier, self.region = (
            eco, maker, vendor, carrier, region)
        self.hz = self.t(cfg["horizon"], 0)
        self.reader_gated = False

    def _deliver(self, at, handler, args):
        yield self.env.timeout(at - self.env.now)
        if self.env.now <= self.hz:
            handler(*args)

    # asked on delivery ------------------------------------------------------------
    def held(self, container, kind, handler, args):
        day = self.today()
        minute = self.env.now - self.t(day, 0)
        yield container.get(1)
        served = self.today()
        self.eco.waits[kind] += (served - day).days
        if served > day:
            self.send(self.t(served, minute), handler, *args)
        else:
            handler(*args)

    def v_order(self, replacement):
        if not replacement and not self.reader_gated:
            self.reader_gated = True
            self.env.process(self.held(self.eco.makers[self.maker], "reader",
                                       super().v_order, (replacement,)))
            return
        super().v_order(replacement)

    def sv_installation_day(self):
        self.env.process(self.held(self.eco.crews[self.vendor][self.region], "crews",
                                   super().sv_installation_day, ()))

    # asked when decided ---------------------------------------------------------------
    def booked(self, container, kind, day, at, handler, args):
        self.env.process(self._booked(container, kind, day, at, handler, args))

    def _booked(self, container, kind, day, at, handler, args):
        yield self.env.timeout(max(0, self.t(day, 1) - self.env.now))
        if self.env.now > self.hz:
            return
        day = self.today()
        yield container.get(1)
        waited = (self.today() - day).days
        self.eco.waits[kind] += waited
        self.send(at + waited * MIN_PER_DAY, handler, *args)

    def b_request(self):
        # model.World.b_request, with the answer through the bureau's capacity.
        received = self.cal.open_on_or_after(self.today())
        processing = self.cfg["bureau"]["processing"].days(self.rng["bureau"])
        if received > self.cfg["request_deadline"]:
            dispatch = self.cal.add_business_days(received, max(processing, 1))
            if self.t(dispatch, OFFICE_OPENS) <= self.hz:
                self.returned = True
            self.send(self.b_mail(dispatch), self.c_request_returned)
            return
        ready = self.cal.add_business_days(received, processing)
        dispatch = min(ready, self.cfg["answer_deadline"])
        self.booked(self.eco.answers[self.region], "answer", dispatch,
                    self.b_mail(dispatch), self.c_reception_answer, ())

    def ib_submission(self):
        today = self.today()
        d = self.cfg["designation"]
        registered_for = d if today <= self.cfg["ib_deadline"] else model.add_months(d, 1)
        lead = self.cfg["ib"]["account_lead"].days(self.rng["ib"])
        ready = self.cal.add_business_days(today, lead)
        self.booked(self.eco.accounts, "account", ready, self.t(ready, OFFICE_OPENS),
                    self.c_account_ready, (registered_for,))

    def k_line_order(self):
        days = self.cfg["carrier"]["lead"].days(self.rng["carrier"])
        ready = self.today() + timedelta(days=days)
        self.booked(self.eco.lines[self.carrier][self.region], "line", ready,
                    self.t(ready, OFFICE_OPENS), self.c_line_ready, ())


def pick(rng, weights):
    total = sum(weights)
    u = rng.random() * total
    last = 0
    for i, w in enumerate(weights):
        if w > 0:
            last = i
            if u < w:
                return i
            u -= w
    return last


def load(path, schedules, holidays):
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ModelError(f"{path}: {e}")
    if spec["ecosystem"]["rules"] != "r2024":
        raise ModelError(f"{path}: ecosystem.rules: only r2024 is modelled")
    pop = spec["population"]
    if "medical-dental" in pop["kinds"]:
        raise ModelError(f"{path}: population.kinds: medical-dental is not modelled")
    margin = pop.get("order_margin")
    if margin is not None and margin.get("kind") != "fixed":
        raise ModelError(f"{path}: population.order_margin: only a fixed margin is modelled")
    if spec.get("actors"):
        raise ModelError(f"{path}: [actors]: only the defaults are modelled")
    ids = {b: i for i, b in enumerate(BUREAUS)}
    spec["_crews"] = []
    for v in spec["system_vendor"]:
        per = [v["crews_per_day"]] * 8
        for b, n in v.get("regions", {}).items():
            per[ids[b]] = n
        spec["_crews"].append(per)
    spec["_openings"] = []
    for c in spec["carrier"]:
        per = [c["openings_per_day"]] * 8
        for b, n in c.get("regions", {}).items():
            per[ids[b]] = n
        spec["_openings"].append(per)
    per = [spec["bureaus"]["answers_per_day"]] * 8
    for b, n in spec["bureaus"].get("per_bureau", {}).items():
        per[ids[b]] = n
    spec["_answers"] = per
    # One model.py configuration per designation month, from a minimal scenario.
    cfgs = {}
    tmp = os.path.join(schedules, "_scenario.toml")
    for m in pop["month"]:
        d = m["designation"]
        with open(tmp, "w") as f:
            f.write(f'[scenario]\nname = "eco"\nrules = "r2024"\n'
                    f'[clinic]\nkind = "medical"\nprefecture = "13"\ndesignation = {d}\n')
        cfgs[d] = model.load(tmp, os.path.join(schedules, f"{d}.json"), holidays)
    os.remove(tmp)
    return spec, cfgs


def run(spec, cfgs, seed):
    rng = random.Random(seed)
    pop = spec["population"]
    prefs = sorted((int(k), w) for k, w in pop.get("prefectures", {}).items()) or \
        [(p, 1.0) for p in range(1, 48)]
    kinds = list(pop["kinds"].values())
    margin = pop.get("order_margin")
    any_cfg = next(iter(cfgs.values()))
    cal = any_cfg["cal"]
    base = date(min(cfgs).year - 2, 1, 1)
    clinics = []
    for m in pop["month"]:
        for _ in range(m["clinics"]):
            pick(rng, kinds)  # the kind: one code whichever it is
            p = prefs[pick(rng, [w for _, w in prefs])][0]
            maker = pick(rng, [x["share"] for x in spec["reader_maker"]])
            vendor = pick(rng, [x["share"] for x in spec["system_vendor"]])
            carrier = pick(rng, [x["share"] for x in spec["carrier"]])
            clinics.append((m["designation"], REGION_OF[p], maker, vendor, carrier))
    origin = min(min(c["designation"], c["reception_request"], c["reader_order"])
                 for c in cfgs.values())
    end = max(c["horizon"] for c in cfgs.values())
    env = simpy.Environment()
    eco = Eco(env, spec, cal, origin, end, base)
    worlds = []
    for (d, region, maker, vendor, carrier) in clinics:
        cfg = dict(cfgs[d])
        cfg["base"] = base
        if margin is not None:
            o = cal.open_on_or_after(cfg["installation"] - timedelta(days=round(margin["days"])))
            cfg["reader_order"] = cfg["network_order"] = cfg["system_vendor_order"] = o
        rv = dict(cfg["reader_vendor"])
        sh = spec["reader_maker"][maker].get("shipping")
        rv["lead"] = Dist("shipping", sh) if sh else Dist.uniform(3.0, 7.0)
        cfg["reader_vendor"] = rv
        ld = spec["carrier"][carrier].get("lead")
        cfg["carrier"] = {"lead": Dist("lead", ld) if ld else Dist.uniform(10.0, 30.0)}
        w = Clinic(env, cfg, [rng.getrandbits(64) for _ in range(5)], eco,
                   maker, vendor, carrier, region)
        w.start()
        worlds.append(w)
    env.run(until=eco.t(end, 0) + 1)
    on_time = sum(1 for w in worlds if model.outcome(w) == "online-on-designation-day")
    delays = [(w.online - w.cfg["designation"]).days for w in worlds if w.online is not None]
    n = len(worlds)
    return {
        "clinics": n,
        "on_time": on_time / n,
        "mean_delay_days": statistics.fmean(delays) if delays else 0.0,
        "never_online": n - len(delays),
        # Days waited per clinic at each kind of resource (crews: summed over visits).
        "wait_per_clinic": {k: v / n for k, v in eco.waits.items()},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--schedules", required=True)
    ap.add_argument("--holidays", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reps", type=int, default=1, help="replications (seeds seed..seed+reps-1)")
    a = ap.parse_args()
    try:
        spec, cfgs = load(a.file, a.schedules, a.holidays)
    except (ModelError, KeyError) as e:
        print(f"ecosystem.py: {e}", file=sys.stderr)
        sys.exit(2)
    out = []
    for r in range(a.reps):
        t0, c0 = time.perf_counter(), time.thread_time()
        res = run(spec, cfgs, a.seed + r)
        res["seconds"] = round(time.perf_counter() - t0, 4)
        res["cpu_seconds"] = round(time.thread_time() - c0, 4)
        res["seed"] = a.seed + r
        out.append(res)
    print(json.dumps({"format": "onsim-simpy-ecosystem/1", "file": a.file,
                      "simpy": simpy.__version__, "python": sys.version.split()[0],
                      "runs": out}))


if __name__ == "__main__":
    main()
