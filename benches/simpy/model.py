#!/usr/bin/env python3
"""The onsim standard sweep scenario (scenarios/sweeps/r2024-standard.toml) in SimPy.

The baseline a researcher would otherwise write: the same actors (clinic, bureau,
implementing body, reader vendor, carrier, system vendor), the same messages and
delivery times, the same distributions and probability-triggered faults, the same
r2024 deadlines, on the same business calendar. Each message is a SimPy process that
waits until its delivery time and then calls the receiving actor, as in onsim's event
loop. Deadlines come from `onsim schedule --format json` and holidays from `onsim
holidays` so both models use the same dates (the rules are not re-implemented here).

Usage:
  model.py --schedule schedule.json --holidays holidays.csv --runs 10000 [--seed 1]
Prints one JSON object: runs, wall seconds, outcome counts, start-delay histogram.

Differences from onsim (deliberate, to keep it short): random streams are Python's
Mersenne Twister per actor (so individual runs differ; the distributions agree), and
only the faults the standard scenario uses are modelled.
"""
import argparse
import csv
import json
import math
import random
import sys
import time
from datetime import date, timedelta

import simpy

MIN_PER_DAY = 24 * 60
OFFICE_OPENS = 9 * 60
MAIL_ARRIVES = 10 * 60


class Calendar:
    """Government business calendar: weekends, national holidays, 29 Dec - 3 Jan."""

    def __init__(self, holidays):
        self.holidays = holidays
        self._open = {}

    def is_open(self, d):
        v = self._open.get(d)
        if v is None:
            v = not (d.weekday() >= 5 or d in self.holidays
                     or (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3))
            self._open[d] = v
        return v

    def open_on_or_after(self, d):
        while not self.is_open(d):
            d += timedelta(days=1)
        return d

    def add_business_days(self, d, n):
        if n == 0:
            return self.open_on_or_after(d)
        step = 1 if n > 0 else -1
        for _ in range(abs(n)):
            d += timedelta(days=step)
            while not self.is_open(d):
                d += timedelta(days=step)
        return d


def sample_days(x):
    # onsim: round half away from zero, clamp to 0..=3650
    x = min(max(x, 0.0), 3650.0)
    return int(math.floor(x + 0.5))


class World:
    """One replication."""

    def __init__(self, env, cfg, seed):
        self.env = env
        self.cfg = cfg
        self.cal = cfg["cal"]
        self.base = cfg["base"]
        r = random.Random(seed)
        # One stream per actor, derived from the replication seed.
        self.rng = {a: random.Random(r.getrandbits(64)) for a in
                    ("clinic", "bureau", "ib", "vendor", "carrier")}
        self.events = []
        # clinic state
        self.designated = None
        self.not_designated = False
        self.registered_for = None
        self.installed = False
        self.online = None
        self.golive_due = False
        self.golive_pending = False
        self.gave_up = False
        self.account = False
        # bureau state
        self.b_designation = cfg["designation"]
        self.b_accepted = False
        self.b_decided = False
        # system vendor state
        self.have = set()
        self.attempts = 0
        self.sv_installed = False

    # --- time helpers -----------------------------------------------------------
    def t(self, d, minute_of_day):
        return (d - self.base).days * MIN_PER_DAY + minute_of_day

    def today(self):
        return self.base + timedelta(days=int(self.env.now // MIN_PER_DAY))

    def send(self, at, handler, *args):
        """Deliver a message at virtual time `at` (minutes)."""
        self.env.process(self._deliver(max(at, self.env.now), handler, args))

    def _deliver(self, at, handler, args):
        yield self.env.timeout(at - self.env.now)
        handler(*args)

    def fault(self, actor, p):
        return self.rng[actor].random() < p

    def event(self, kind):
        self.events.append((self.env.now, kind))

    # --- clinic ----------------------------------------------------------------
    def start(self):
        c = self.cfg
        self.send(self.t(c["reader_order"], OFFICE_OPENS), self.vendor_order, False)
        self.send(self.t(c["network_order"], OFFICE_OPENS), self.carrier_order)
        self.send(self.t(c["system_vendor_order"], OFFICE_OPENS), self.sv_order)
        self.send(self.t(c["reception_request"], OFFICE_OPENS), self.bureau_request)
        self.send(self.t(c["designation_application"], OFFICE_OPENS),
                  self.clinic_designation_application)
        self.send(self.t(c["designation"], OFFICE_OPENS), self.clinic_golive_step)

    def clinic_answer(self):
        today = self.today()
        day = self.cal.add_business_days(today, 1)
        if self.fault("clinic", 0.01):  # late-reception-submission, 2 business days
            fifteenth = date(today.year, today.month, 15)
            day = self.cal.add_business_days(max(fifteenth, today), 2)
        self.send(self.t(day, OFFICE_OPENS), self.ib_submission)

    def clinic_account_ready(self, registered_for):
        today = self.today()
        if not self.account:
            self.account = True
            self.sv_prerequisite("account")
        self.registered_for = registered_for if self.registered_for is None else max(
            self.registered_for, registered_for)
        day = self.cal.add_business_days(today, 1)
        self.send(self.t(day, OFFICE_OPENS), self.ib_certificate_application)
        self.clinic_try_go_live()

    def clinic_certificate_notice(self):
        self.event("certificate-notice-received")
        self.sv_prerequisite("certificate")

    def clinic_reader_delivered(self, working):
        if working:
            self.event("reader-delivered")
            self.sv_prerequisite("reader")
            self.clinic_try_go_live()
        else:
            self.event("reader-dead-on-arrival")
            self.send(self.env.now, self.vendor_order, True)

    def clinic_designation_application(self):
        complete = not self.fault("clinic", 0.05)  # plan-incomplete
        self.send(self.env.now, self.bureau_designation_application, complete)

    def clinic_correction(self):
        day = self.cal.add_business_days(self.today(), 5)
        self.send(self.t(day, OFFICE_OPENS), self.bureau_designation_application, True)

    def clinic_designated(self, d):
        self.designated = d
        if d > self.cfg["designation"]:
            self.send(self.t(d, OFFICE_OPENS), self.clinic_golive_step)
        self.clinic_try_go_live()

    def clinic_not_designated(self):
        self.not_designated = True

    def clinic_installation_done(self):
        self.installed = True
        self.clinic_try_go_live()

    def clinic_golive_step(self):
        self.golive_due = True
        self.clinic_try_go_live()

    def clinic_try_go_live(self):
        if self.online is not None or not self.golive_due or self.golive_pending or self.gave_up:
            return
        today = self.today()
        ok = (self.designated is not None and self.designated <= today
              and self.registered_for is not None and self.registered_for <= today
              and self.installed)
        if ok:
            self.golive_pending = True
            self.send(self.env.now, self.carrier_check, "go-live")
        else:
            self.event("online-start-failed")
            future = [d for d in (self.designated, self.registered_for)
                      if d is not None and d > today]
            if future:
                self.send(self.t(max(future), OFFICE_OPENS), self.clinic_golive_step)

    def clinic_golive_result(self, failure):
        self.golive_pending = False
        if failure is None:
            self.online = self.today()
            self.event("online-start")
        else:
            self.event("online-start-failed")
            nxt = self.today() + timedelta(days=1)
            self.send(self.t(nxt, OFFICE_OPENS), self.clinic_golive_step)

    # --- bureau ----------------------------------------------------------------
    def bureau_mail(self, dispatch):
        days = sample_days(self.rng["bureau"].uniform(1.0, 3.0))
        return self.t(dispatch + timedelta(days=days), MAIL_ARRIVES)

    def bureau_request(self):
        self.event("reception-request-sent")
        received = self.cal.open_on_or_after(self.today())
        if received > self.cfg["request_deadline"]:
            self.event("request-returned")
            return
        processing = sample_days(self.rng["bureau"].triangular(1.0, 7.0, 3.0))
        ready = self.cal.add_business_days(received, processing)
        dispatch = min(ready, self.cfg["answer_deadline"])
        if self.fault("bureau", 0.02):  # bureau-answer-delay, 4 business days
            dispatch = self.cal.add_business_days(dispatch, 4)
        self.send(self.bureau_mail(dispatch), self.clinic_answer)

    def bureau_accept(self):
        if self.b_accepted:
            return
        self.b_accepted = True
        self.send(self.t(self.b_designation, OFFICE_OPENS - 60), self.bureau_council)

    def bureau_designation_application(self, complete):
        received = self.cal.open_on_or_after(self.today())
        if received > self.cfg["application_deadline"] and not self.b_accepted:
            self.event("designation-application-late")
            d = self.b_designation
            self.b_designation = date(d.year + (d.month // 12), d.month % 12 + 1, 1)
        if not complete:
            self.event("correction-requested")
            at = self.bureau_mail(self.cal.add_business_days(received, 2))
            self.send(at, self.clinic_correction)
            return
        self.bureau_accept()

    def bureau_council(self):
        if self.b_decided:
            return
        self.b_decided = True
        if self.fault("bureau", 0.002):  # designation-refused
            self.event("not-designated")
            self.clinic_not_designated()
            return
        self.event("designated")
        self.clinic_designated(self.b_designation)

    # --- implementing body -----------------------------------------------------
    def ib_submission(self):
        today = self.today()
        d = self.cfg["designation"]
        if today <= self.cfg["ib_deadline"]:
            registered_for = d
        else:
            self.event("reception-number-late")
            registered_for = date(d.year + (d.month // 12), d.month % 12 + 1, 1)
        lead = sample_days(self.rng["ib"].triangular(3.0, 7.0, 4.0))
        at = self.t(self.cal.add_business_days(today, lead), OFFICE_OPENS)
        self.send(at, self.clinic_account_ready, registered_for)

    def ib_certificate_application(self):
        lead = sample_days(self.rng["ib"].uniform(2.0, 5.0))
        issued = self.cal.add_business_days(self.today(), lead)
        days = sample_days(self.rng["ib"].uniform(2.0, 5.0))
        if self.fault("ib", 0.05):  # certificate-notice-delay, 10 days
            days += 10
        self.send(self.t(issued + timedelta(days=days), MAIL_ARRIVES),
                  self.clinic_certificate_notice)

    def ib_check(self, purpose, reply):
        failure = None
        if purpose == "installation" and self.fault("ib", 0.02):  # implementing-body-down
            failure = "implementing-body-down"
        self.send(self.env.now + 1, reply, failure)

    # --- reader vendor, carrier --------------------------------------------------
    def vendor_order(self, replacement):
        today = self.today()
        rng = self.rng["vendor"]
        if replacement:
            days = sample_days(rng.uniform(7.0, 21.0))
            working = True
        else:
            days = sample_days(rng.triangular(85.0, 150.0, 110.0))
            working = not self.fault("vendor", 0.03)  # reader-doa
        self.send(self.t(today + timedelta(days=days), MAIL_ARRIVES),
                  self.clinic_reader_delivered, working)

    def carrier_order(self):
        days = sample_days(self.rng["carrier"].lognormvariate(3.689, 0.35))
        self.send(self.t(self.today() + timedelta(days=days), OFFICE_OPENS),
                  self.sv_prerequisite, "line")

    def carrier_check(self, purpose):
        reply = self.clinic_golive_result if purpose == "go-live" else self.sv_check_result
        if purpose == "go-live" and self.fault("carrier", 0.01):  # carrier-outage on go-live
            self.send(self.env.now + 1, reply, "carrier-outage")
            return
        self.send(self.env.now + 1, self.ib_check, purpose, reply)

    # --- system vendor -----------------------------------------------------------
    def sv_order(self):
        day = self.cal.open_on_or_after(self.cfg["installation"])
        self.send(self.t(day, OFFICE_OPENS), self.sv_installation_day)

    def sv_prerequisite(self, what):
        self.have.add(what)

    def sv_retry(self):
        if self.attempts >= 30:
            return
        day = self.cal.add_business_days(self.today(), 3)
        self.send(self.t(day, OFFICE_OPENS), self.sv_installation_day)

    def sv_installation_day(self):
        if self.sv_installed:
            return
        self.attempts += 1
        if len(self.have) < 4:
            self.event("installation-postponed")
            self.sv_retry()
            return
        self.send(self.env.now + 60, self.carrier_check, "installation")

    def sv_check_result(self, failure):
        if failure is None:
            self.sv_installed = True
            self.event("installation-done")
            self.send(self.env.now + 120, self.clinic_installation_done)
        else:
            self.event("connectivity-failed")
            self.sv_retry()


def outcome(w):
    kinds = {k for _, k in w.events}
    if "not-designated" in kinds:
        return "not-designated"
    if "request-returned" in kinds:
        return "request-returned"
    if w.online is None:
        return "not-online"
    return "online-on-designation-day" if w.online <= w.cfg["designation"] else "online-late"


def load(schedule_path, holidays_path):
    sched = json.load(open(schedule_path))
    ms = {m["id"]: date.fromisoformat(m["date"]) for m in sched["milestones"]}
    with open(holidays_path) as f:
        hol = {date.fromisoformat(r["date"]) for r in csv.DictReader(f)}
    cal = Calendar(hol)
    designation = date.fromisoformat(sched["designation"])
    installation = ms["system-installation"]
    order = installation - timedelta(days=127)  # READER_ORDER_MARGIN_DAYS
    return {
        "cal": cal,
        "base": date(designation.year - 1, 1, 1),
        "designation": designation,
        "request_deadline": ms["reception-request-deadline"],
        "answer_deadline": ms["bureau-answer-dispatch"],
        "ib_deadline": ms["implementing-body-deadline"],
        "application_deadline": ms["designation-application-deadline"],
        "installation": installation,
        "reader_order": order,
        "network_order": order,
        "system_vendor_order": order,
        "reception_request": cal.add_business_days(ms["reception-request-deadline"], -5),
        "designation_application": cal.add_business_days(
            ms["designation-application-deadline"], -5),
        "horizon_days": 183,
    }


def replicate(cfg, seed):
    env = simpy.Environment()
    w = World(env, cfg, seed)
    w.start()
    horizon = w.t(cfg["designation"] + timedelta(days=cfg["horizon_days"]), 0)
    env.run(until=horizon)
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schedule", required=True)
    ap.add_argument("--holidays", required=True)
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.runs < 1:
        print("--runs must be at least 1", file=sys.stderr)
        sys.exit(2)
    cfg = load(a.schedule, a.holidays)
    counts = {}
    delay = {}
    t0 = time.perf_counter()
    for i in range(a.runs):
        w = replicate(cfg, a.seed * 1_000_003 + i)
        o = outcome(w)
        counts[o] = counts.get(o, 0) + 1
        if w.online is not None:
            dd = (w.online - cfg["designation"]).days
            delay[dd] = delay.get(dd, 0) + 1
    wall = time.perf_counter() - t0
    print(json.dumps({
        "runs": a.runs,
        "seconds": round(wall, 4),
        "simpy": simpy.__version__,
        "python": sys.version.split()[0],
        "outcomes": dict(sorted(counts.items())),
        "start_delay_histogram": {str(k): v for k, v in sorted(delay.items())},
    }))


if __name__ == "__main__":
    main()
