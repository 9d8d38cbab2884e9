#!/usr/bin/env python3
"""An onsim sweep scenario re-modelled in SimPy, for an honest cross-check of onsim.

Written from onsim's documented semantics (the doc comments of fakes/src/process/*.rs,
fakes/src/dist.rs and sim/src/runner.rs), not by porting its code: the distributions
are Python's own (`random.uniform`, `random.triangular`, `random.lognormvariate`,
`random.choices`), the random streams are Mersenne Twister, the event loop is SimPy's.
Only the dates come from onsim: the deadlines from `onsim schedule --format json` and
the national holidays from `onsim holidays` (the rule and holiday tables are checked
elsewhere, docs/SEEDS.md; re-deriving them is not what this cross-check is for). The
scenario's parameters and faults are read from the scenario TOML itself, so a change of
the file reaches both models.

Usage:
  model.py SCENARIO.toml --schedule schedule.json --holidays holidays.csv
           [--runs 200000] [--seed 1]
Prints one JSON object: runs, wall seconds, outcome counts, start-delay histogram.
Exit 2 on bad input or on anything the model does not implement (named).

Scope: r2024, one institution code (medical, dental or pharmacy), full installation,
the recommended plan (no `[plan]` overrides), no bureau closures or deadline shift, the
default carrier service. Faults: the kinds listed below; any other kind is refused.

Semantics implemented, each with the onsim file it matches
----------------------------------------------------------
Engine and time
 1. Next-event loop; messages at the same instant are delivered in the order they were
    sent (FIFO), and a message dated before "now" is delivered now.
    [sim/src/engine.rs EventQueue; sim/src/runner.rs run_prepared]. Here each message
    is a SimPy process that sleeps until its delivery time; SimPy orders equal times
    by scheduling order, which is the send order.
 2. Offices act at 09:00, mail arrives at 10:00. [fakes/src/process/mod.rs
    OFFICE_OPENS, MAIL_ARRIVES]
 3. Horizon: the start of (designation + 6 months); events after it are not handled.
    [sim/src/runner.rs HORIZON_MONTHS]
 4. Business calendar: weekends, national holidays, 29 Dec - 3 Jan; "n business days
    after d" counts open days strictly after d, n = 0 rolls d forward to an open day.
    [fakes/src/calendar/mod.rs add_business_days]
Distributions [fakes/src/dist.rs]
 5. fixed, uniform[min,max], triangular(min,mode,max), lognormal(mu,sigma) of the
    underlying normal, empirical(values, weights); a day count is the sample rounded to
    the nearest day (half away from zero), clamped to 0..=3650 (`sample_days`).
 6. Parameter defaults when the scenario omits them [fakes/src/process/params.rs]:
    bureau processing fixed 3, postal uniform 1-3, correction_turnaround fixed 5;
    implementing body account_lead fixed 4, certificate_lead uniform 2-4, mail
    uniform 2-4; reader lead triangular 90/105/120 (face-auth models) or uniform 5-10
    (generic), replacement fixed 14; carrier lead uniform 30-60; system vendor
    retry_after 3 business days, max_attempts 30.
Faults [fakes/src/process/fault.rs Faults::fires, Faults::applies]
 7. A fault bites when asked at its point, if the date is in its window (`at`..`until`,
    no window = always) and, for a step-tied fault (`on`), the step matches; then, only
    if it has a probability, one uniform draw decides. A step-tied fault with no window
    bites only on the step's actual day: the first day the suffering party is asked at
    that step (carrier and implementing body: the first connectivity check of that
    purpose reaching them), so a step that slipped is met on the day it slipped to and
    retries on later days are not hit again (and draw nothing).
Clinic [fakes/src/process/clinic.rs]
 8. Recommended plan: reader, line and system-vendor orders on the open day on or after
    installation - 127 days (READER_ORDER_MARGIN_DAYS), reception request 5 business
    days before the bureau's request deadline, designation application 5 business days
    before its deadline, go-live step on the designation date. [Plan::resolve, start]
 9. Bureau answer received: submit the number 1 business day later (submit_after);
    fault late-reception-submission: `business_days` (default 2) business days after
    the implementing body's deadline (the 15th, from the schedule) or after today if
    that is later.
10. Portal account ready: the account goes to the system vendor, the usage and
    certificate applications go out the next business day.
11. Designation application: fault plan-incomplete (drawn once, on the application
    step) makes it incomplete; on the bureau's correction request the clinic resubmits
    a complete plan `correction_turnaround` business days later (a draw from the
    bureau's parameter, uniform 3-8 in the standard scenario).
12. Reader delivered: working -> prerequisite to the system vendor; dead on arrival ->
    replacement ordered the same instant. Line ready, certificate notice -> forwarded
    to the system vendor the same instant (one more message hop, as in onsim).
13. Go-live: on the go-live step (and whenever something arrives after it is due) the
    clinic goes online if designated from a day <= today, its reception number is
    registered from a day <= today, and the system is installed: it sends a
    connectivity check to the carrier. Not ready -> retry on the latest future date of
    (designation, registration), if any. Check failed with a transient failure (carrier
    outage, implementing body down) -> go-live step again the next calendar day.
    A designation later than planned schedules a go-live step on that date.
Bureau [fakes/src/process/bureau.rs]
14. Request received on the open day on or after arrival; after the request deadline ->
    returned (返戻). Otherwise the answer goes out after `processing` business days but
    never after the answer deadline (the 10th); fault bureau-answer-delay adds
    `business_days` (default 3) business days on top; post takes `postal` days.
15. Designation application received after its deadline while not yet accepted ->
    designation moves to the next month. Incomplete -> correction request posted 2
    business days after receipt (+ postal). Accepted -> council decision on the
    designation date at 08:00; fault designation-refused there -> not designated.
Implementing body [fakes/src/process/implementing_body.rs]
16. Reception number received on or before its deadline -> registered for the
    designation month, else for the next month; account ready `account_lead` business
    days later at 09:00.
17. Certificate issued `certificate_lead` business days after the application; the
    notice arrives `mail` calendar days later at 10:00; fault certificate-notice-delay
    adds `days` (default 10); fault certificate-notice-lost: the notice never comes.
18. Connectivity check: fault implementing-body-down (step-tied) -> failure.
Reader vendor [fakes/src/process/reader_vendor.rs]
19. Order: `lead` calendar days (+ fault reader-delay `days`, default 30), fault
    reader-doa decides if it is dead on arrival; a replacement takes `replacement` days
    and always works.
Carrier [fakes/src/process/carrier.rs]
20. Line ready `lead` calendar days after the order at 09:00. Connectivity check: fault
    carrier-outage (window or step) -> failure; else it passes to the implementing body,
    which answers whoever asked.
System vendor [fakes/src/process/system_vendor.rs]
21. Installation on the open day on or after the planned date: if the reader, line,
    portal account and certificate notice are all in hand, connectivity check at +60
    min; pass -> installed, clinic told at +120 min. Missing something or a transient
    check failure -> retry `retry_after` business days later, at most `max_attempts`
    attempts in all.
Outcome [sim/src/runner.rs judge_outcome; sim/src/sweep.rs observe]
22. not-designated if refused, else request-returned if returned, else online-on-
    designation-day if online on or before the designation date, online-late if online
    later within the horizon, not-online otherwise. Start delay = online date -
    designation date in calendar days.
"""
import argparse
import csv
import json
import math
import random
import sys
import time
import tomllib
from datetime import date, timedelta

import simpy

MIN_PER_DAY = 24 * 60
OFFICE_OPENS = 9 * 60
MAIL_ARRIVES = 10 * 60
MAX_DAYS = 3650
READER_ORDER_MARGIN_DAYS = 127
HORIZON_MONTHS = 6
OUTCOMES = ("online-on-designation-day", "online-late", "not-online",
            "request-returned", "not-designated")


class ModelError(Exception):
    """Input the model refuses; the message names what and where."""


# --- calendar ----------------------------------------------------------------------

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


def add_months(d, n):
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, d.day)


# --- distributions -----------------------------------------------------------------

def to_days(x):
    """Nearest whole day, half away from zero, clamped to 0..=MAX_DAYS."""
    if x != x:  # NaN
        return 0
    x = min(max(x, 0.0), float(MAX_DAYS))
    f = math.floor(x)
    return int(f) + (1 if x - f >= 0.5 else 0)


class Dist:
    """One `{ kind = ... }` table of the scenario file, sampled with Python's random."""

    FIELDS = {"fixed": ("days",), "uniform": ("min", "max"),
              "triangular": ("min", "mode", "max"), "lognormal": ("mu", "sigma"),
              "empirical": ("values", "weights")}

    def __init__(self, where, t):
        if not isinstance(t, dict) or t.get("kind") not in self.FIELDS:
            raise ModelError(f"{where}: expected {{ kind = fixed|uniform|triangular|"
                             f"lognormal|empirical, ... }}, got {t!r}")
        self.kind = t["kind"]
        want = set(self.FIELDS[self.kind])
        have = set(t) - {"kind"}
        if have != want:
            raise ModelError(f"{where}: {self.kind} takes {sorted(want)}, got {sorted(have)}")
        self.p = t
        if self.kind == "triangular" and not (t["min"] <= t["mode"] <= t["max"]):
            raise ModelError(f"{where}: triangular needs min <= mode <= max")
        if self.kind == "uniform" and t["min"] > t["max"]:
            raise ModelError(f"{where}: uniform needs min <= max")

    @staticmethod
    def fixed(days):
        return Dist("default", {"kind": "fixed", "days": days})

    @staticmethod
    def uniform(lo, hi):
        return Dist("default", {"kind": "uniform", "min": lo, "max": hi})

    def days(self, rng):
        p, k = self.p, self.kind
        if k == "fixed":
            x = float(p["days"])
        elif k == "uniform":
            x = rng.uniform(p["min"], p["max"])
        elif k == "triangular":
            x = rng.triangular(p["min"], p["max"], p["mode"])  # (low, high, mode)
        elif k == "lognormal":
            x = rng.lognormvariate(p["mu"], p["sigma"])
        else:
            x = rng.choices(p["values"], weights=p["weights"])[0]
        return to_days(x)


# --- faults ------------------------------------------------------------------------

# Kinds this model implements, with the fields each takes.
FAULT_FIELDS = {
    "bureau-answer-delay": {"business_days"},
    "late-reception-submission": {"business_days"},
    "reader-delay": {"days"},
    "reader-doa": set(),
    "carrier-outage": set(),
    "certificate-notice-lost": set(),
    "certificate-notice-delay": {"days"},
    "plan-incomplete": {"missing"},
    "designation-refused": set(),
    "implementing-body-down": set(),
}
TRIGGER_FIELDS = {"kind", "probability", "at", "until", "on"}


class Fault:
    def __init__(self, where, t, designation, installation):
        kind = t.get("kind")
        if kind not in FAULT_FIELDS:
            raise ModelError(f"{where}: fault kind {kind!r} is not implemented by this "
                             f"model (it implements: {', '.join(sorted(FAULT_FIELDS))})")
        extra = set(t) - TRIGGER_FIELDS - FAULT_FIELDS[kind]
        if extra:
            raise ModelError(f"{where}: fault {kind} takes no {sorted(extra)}")
        self.kind = kind
        self.p = t.get("probability")
        if self.p is not None and not 0.0 <= self.p <= 1.0:
            raise ModelError(f"{where}: probability must be between 0 and 1")
        self.on = t.get("on")
        if self.on not in (None, "go-live", "installation"):
            raise ModelError(f"{where}: on = {self.on!r}; expected go-live or installation")
        if kind == "implementing-body-down" and self.on is None:
            # A window form changes the body's working days (Faults::active); not modelled.
            raise ModelError(f"{where}: implementing-body-down is implemented only with `on`")
        if kind == "carrier-outage" and self.on is None and t.get("at") is None:
            raise ModelError(f"{where}: carrier-outage needs `at` or `on`")
        self.at = t.get("at")
        self.until = t.get("until", self.at)
        self.business_days = t.get("business_days")
        self.days = t.get("days")


class Faults:
    def __init__(self, faults):
        self.by_kind = {}
        for f in faults:
            self.by_kind.setdefault(f.kind, []).append(f)

    def fires(self, kind, d, step, rng, step_day=None):
        """The first fault of `kind` that bites on day `d` at `step`, or None.
        `step_day`: the day this party first met `step` (rule 7)."""
        for f in self.by_kind.get(kind, ()):
            if f.at is not None and not (f.at <= d <= f.until):
                continue
            if f.on is not None and f.on != step:
                continue
            if f.on is not None and f.at is None and step_day is not None and d != step_day:
                continue
            if f.p is not None and rng.random() >= f.p:
                continue
            return f
        return None


# --- configuration -----------------------------------------------------------------

def take(where, table, defaults):
    """Read `table` with `defaults`; refuse keys this model does not implement."""
    table = table or {}
    unknown = set(table) - set(defaults)
    if unknown:
        raise ModelError(f"{where}: not implemented by this model: {sorted(unknown)}")
    out = {}
    for k, d in defaults.items():
        v = table.get(k)
        out[k] = d if v is None else (Dist(f"{where}.{k}", v) if isinstance(d, Dist) else v)
    return out


def load(scenario_path, schedule_path, holidays_path):
    try:
        with open(scenario_path, "rb") as f:
            spec = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ModelError(f"{scenario_path}: {e}")
    try:
        with open(schedule_path) as f:
            sched = json.load(f)
        ms = {m["id"]: date.fromisoformat(m["date"]) for m in sched["milestones"]}
        designation = date.fromisoformat(sched["designation"])
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"{schedule_path}: not an `onsim schedule --format json` output ({e})")
    try:
        with open(holidays_path) as f:
            hol = {date.fromisoformat(r["date"]) for r in csv.DictReader(f)}
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"{holidays_path}: not an `onsim holidays` output ({e})")

    sc = spec.get("scenario", {})
    clinic = spec.get("clinic", {})
    where = scenario_path
    if sc.get("rules") != "r2024":
        raise ModelError(f"{where}: scenario.rules = {sc.get('rules')!r}; only r2024 is modelled")
    if clinic.get("kind") not in ("medical", "dental", "pharmacy"):
        raise ModelError(f"{where}: clinic.kind = {clinic.get('kind')!r}; only one "
                         "institution code (medical, dental, pharmacy) is modelled")
    for k in ("claims", "limited_type", "postal_application", "as_of"):
        if k in clinic and clinic[k] not in ("online", False):
            raise ModelError(f"{where}: clinic.{k} is not modelled")
    if clinic.get("designation") != designation:
        raise ModelError(f"{schedule_path}: designation {designation} differs from the "
                         f"scenario's {clinic.get('designation')}")
    if sched.get("rules") != "r2024":
        raise ModelError(f"{schedule_path}: rules {sched.get('rules')!r}, expected r2024")
    if spec.get("plan"):
        raise ModelError(f"{where}: [plan] overrides are not modelled")
    actors = spec.get("actors", {})
    unknown = set(actors) - {"bureau", "implementing_body", "reader_vendor", "carrier",
                             "system_vendor"}
    if unknown:
        raise ModelError(f"{where}: unknown actors {sorted(unknown)}")
    bureau = take(f"{where}: actors.bureau", actors.get("bureau"), {
        "processing": Dist.fixed(3.0), "postal": Dist.uniform(1.0, 3.0),
        "correction_turnaround": Dist.fixed(5.0), "next_number": 101})
    ib = take(f"{where}: actors.implementing_body", actors.get("implementing_body"), {
        "account_lead": Dist.fixed(4.0), "temporary_code_lead": Dist.fixed(3.0),
        "certificate_lead": Dist.uniform(2.0, 4.0), "mail": Dist.uniform(2.0, 4.0),
        "free_reader_lead": Dist.uniform(120.0, 150.0)})
    rv = take(f"{where}: actors.reader_vendor", actors.get("reader_vendor"), {
        "model": "fujitsu-caora", "lead": None, "replacement": Dist.fixed(14.0)})
    if rv["lead"] is None:
        rv["lead"] = (Dist.uniform(5.0, 10.0) if rv["model"] == "generic" else
                      Dist("default", {"kind": "triangular", "min": 90.0, "mode": 105.0,
                                       "max": 120.0}))
    elif not isinstance(rv["lead"], Dist):
        rv["lead"] = Dist(f"{where}: actors.reader_vendor.lead", rv["lead"])
    carrier = take(f"{where}: actors.carrier", actors.get("carrier"),
                   {"lead": Dist.uniform(30.0, 60.0)})
    sv = take(f"{where}: actors.system_vendor", actors.get("system_vendor"),
              {"retry_after": 3, "max_attempts": 30})

    cal = Calendar(hol)
    installation = ms["system-installation"]
    order = cal.open_on_or_after(installation - timedelta(days=READER_ORDER_MARGIN_DAYS))
    faults = Faults([Fault(f"{where}: faults[{i}]", t, designation, installation)
                     for i, t in enumerate(spec.get("faults", []))])
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
        "horizon": add_months(designation, HORIZON_MONTHS),
        "bureau": bureau, "ib": ib, "reader_vendor": rv, "carrier": carrier, "sv": sv,
        "faults": faults,
    }


# --- one replication ---------------------------------------------------------------

class World:
    """One replication: six actors exchanging messages through SimPy."""

    def __init__(self, env, cfg, seeds):
        self.env = env
        self.cfg = cfg
        self.cal = cfg["cal"]
        self.base = cfg["base"]
        self.faults = cfg["faults"]
        # (party, step) -> the day the party first met the step (rule 7).
        self.step_day = {}
        self.rng = dict(zip(("clinic", "bureau", "ib", "vendor", "carrier"),
                            (random.Random(s) for s in seeds)))
        # outcome
        self.online = None
        self.refused = False
        self.returned = False
        # clinic
        self.c_number = False
        self.c_applied = False
        self.c_account = False
        self.registered_for = None
        self.installed = False
        self.designated = None
        self.golive_due = False
        self.golive_pending = False
        self.gave_up = False
        # bureau
        self.b_designation = cfg["designation"]
        self.b_accepted = False
        self.b_decided = False
        # system vendor
        self.have = set()
        self.attempts = 0
        self.sv_installed = False

    # time -------------------------------------------------------------------------
    def t(self, d, minute_of_day):
        return (d - self.base).days * MIN_PER_DAY + minute_of_day

    def today(self):
        return self.base + timedelta(days=int(self.env.now // MIN_PER_DAY))

    def send(self, at, handler, *args):
        """A message: a SimPy process that sleeps until `at` (never in the past)."""
        self.env.process(self._deliver(max(at, self.env.now), handler, args))

    def _deliver(self, at, handler, args):
        yield self.env.timeout(at - self.env.now)
        handler(*args)

    def fires(self, kind, actor, step=None):
        first = None
        if step is not None:
            first = self.step_day.setdefault((actor, step), self.today())
        return self.faults.fires(kind, self.today(), step, self.rng[actor], first)

    # clinic -----------------------------------------------------------------------
    def start(self):
        c = self.cfg
        now = lambda d: self.t(d, OFFICE_OPENS)
        self.send(now(c["reader_order"]), self.c_reader_order_step)
        self.send(now(c["network_order"]), self.c_network_order_step)
        self.send(now(c["system_vendor_order"]), self.c_system_order_step)
        self.send(now(c["reception_request"]), self.c_reception_request_step)
        self.send(now(c["designation_application"]), self.c_designation_application_step)
        self.send(now(c["designation"]), self.c_golive_step)

    def c_reader_order_step(self):
        self.send(self.env.now, self.v_order, False)

    def c_network_order_step(self):
        self.send(self.env.now, self.k_line_order)

    def c_system_order_step(self):
        self.send(self.env.now, self.sv_order, self.cfg["installation"])

    def c_reception_request_step(self):
        self.send(self.env.now, self.b_request)

    def c_reception_answer(self):
        self.c_number = True
        today = self.today()
        day = self.cal.add_business_days(today, 1)
        f = self.fires("late-reception-submission", "clinic")
        if f is not None:
            n = f.business_days if f.business_days is not None else 2
            day = self.cal.add_business_days(max(self.cfg["ib_deadline"], today), n)
        self.send(self.t(day, OFFICE_OPENS), self.c_submit_step)

    def c_request_returned(self):
        pass

    def c_submit_step(self):
        self.send(self.env.now, self.ib_submission)

    def c_account_ready(self, registered_for):
        today = self.today()
        if not self.c_account:
            self.c_account = True
            self.send(self.env.now, self.sv_prerequisite, "account")
        self.registered_for = (registered_for if self.registered_for is None
                               else max(self.registered_for, registered_for))
        day = self.cal.add_business_days(today, 1)
        self.send(self.t(day, OFFICE_OPENS), self.c_applications_step)
        self.c_try_go_live()

    def c_applications_step(self):
        if self.c_applied or not self.c_number:
            return
        self.c_applied = True
        self.send(self.env.now, self.ib_certificate_application)
        self.send(self.env.now, self.ib_usage_application)

    def c_certificate_notice(self):
        self.send(self.env.now, self.sv_prerequisite, "certificate")

    def c_reader_delivered(self, working):
        if working:
            self.send(self.env.now, self.sv_prerequisite, "reader")
            self.c_try_go_live()
        else:
            self.send(self.env.now, self.v_order, True)

    def c_line_ready(self):
        self.send(self.env.now, self.sv_prerequisite, "line")

    def c_designation_application_step(self):
        complete = self.fires("plan-incomplete", "clinic") is None
        self.send(self.env.now, self.b_designation_application, complete)

    def c_correction_request(self):
        n = self.cfg["bureau"]["correction_turnaround"].days(self.rng["clinic"])
        day = self.cal.add_business_days(self.today(), n)
        self.send(self.t(day, OFFICE_OPENS), self.b_designation_application, True)

    def c_designated(self, d):
        self.designated = d
        if d > self.cfg["designation"]:
            self.send(self.t(d, OFFICE_OPENS), self.c_golive_step)
        self.c_try_go_live()

    def c_not_designated(self):
        pass

    def c_installation_done(self):
        self.installed = True
        self.c_try_go_live()

    def c_installation_postponed(self):
        pass

    def c_golive_step(self):
        self.golive_due = True
        self.c_try_go_live()

    def c_try_go_live(self):
        if self.online is not None or not self.golive_due or self.golive_pending or self.gave_up:
            return
        today = self.today()
        if (self.designated is not None and self.designated <= today
                and self.registered_for is not None and self.registered_for <= today
                and self.installed):
            self.golive_pending = True
            self.send(self.env.now, self.k_check, "go-live", self.c_golive_result)
            return
        future = [d for d in (self.designated, self.registered_for)
                  if d is not None and d > today]
        if future:
            self.send(self.t(max(future), OFFICE_OPENS), self.c_golive_step)

    def c_golive_result(self, failure):
        self.golive_pending = False
        if failure is None:
            self.online = self.today()
        elif failure in ("carrier-outage", "implementing-body-down"):
            self.send(self.t(self.today() + timedelta(days=1), OFFICE_OPENS), self.c_golive_step)
        else:
            self.gave_up = True

    # bureau -----------------------------------------------------------------------
    def b_mail(self, dispatch):
        days = self.cfg["bureau"]["postal"].days(self.rng["bureau"])
        return self.t(dispatch + timedelta(days=days), MAIL_ARRIVES)

    def b_request(self):
        received = self.cal.open_on_or_after(self.today())
        processing = self.cfg["bureau"]["processing"].days(self.rng["bureau"])
        if received > self.cfg["request_deadline"]:
            dispatch = self.cal.add_business_days(received, max(processing, 1))
            if self.t(dispatch, OFFICE_OPENS) <= self.t(self.cfg["horizon"], 0):
                self.returned = True
            self.send(self.b_mail(dispatch), self.c_request_returned)
            return
        ready = self.cal.add_business_days(received, processing)
        dispatch = min(ready, self.cfg["answer_deadline"])
        f = self.faults.fires("bureau-answer-delay", dispatch, None, self.rng["bureau"])
        if f is not None:
            n = f.business_days if f.business_days is not None else 3
            dispatch = self.cal.add_business_days(dispatch, n)
        self.send(self.b_mail(dispatch), self.c_reception_answer)

    def b_accept(self):
        if self.b_accepted:
            return
        self.b_accepted = True
        self.send(self.t(self.b_designation, OFFICE_OPENS - 60), self.b_council)

    def b_designation_application(self, complete):
        received = self.cal.open_on_or_after(self.today())
        if received > self.cfg["application_deadline"] and not self.b_accepted:
            self.b_designation = add_months(self.b_designation, 1)
        if not complete:
            at = self.b_mail(self.cal.add_business_days(received, 2))
            self.send(at, self.c_correction_request)
            return
        self.b_accept()

    def b_council(self):
        if self.b_decided:
            return
        self.b_decided = True
        if self.fires("designation-refused", "bureau") is not None:
            self.refused = True
            self.send(self.env.now, self.c_not_designated)
            return
        d = self.b_designation
        self.send(self.env.now, self.c_designated, d)
        self.send(self.t(self.cal.open_on_or_after(d), OFFICE_OPENS + 60), self.ib_codes_sent)

    # implementing body ----------------------------------------------------------------
    def ib_submission(self):
        today = self.today()
        d = self.cfg["designation"]
        registered_for = d if today <= self.cfg["ib_deadline"] else add_months(d, 1)
        lead = self.cfg["ib"]["account_lead"].days(self.rng["ib"])
        at = self.t(self.cal.add_business_days(today, lead), OFFICE_OPENS)
        self.send(at, self.c_account_ready, registered_for)

    def ib_usage_application(self):
        pass

    def ib_codes_sent(self):
        pass

    def ib_certificate_application(self):
        rng = self.rng["ib"]
        lead = self.cfg["ib"]["certificate_lead"].days(rng)
        issued = self.cal.add_business_days(self.today(), lead)
        if self.faults.fires("certificate-notice-lost", issued, None, rng) is not None:
            return
        days = self.cfg["ib"]["mail"].days(rng)
        f = self.faults.fires("certificate-notice-delay", issued, None, rng)
        if f is not None:
            days += f.days if f.days is not None else 10
        self.send(self.t(issued + timedelta(days=days), MAIL_ARRIVES), self.c_certificate_notice)

    def ib_check(self, purpose, reply):
        failure = None
        if self.fires("implementing-body-down", "ib", purpose) is not None:
            failure = "implementing-body-down"
        self.send(self.env.now + 1, reply, failure)

    # reader vendor, carrier -----------------------------------------------------------
    def v_order(self, replacement):
        today = self.today()
        rng = self.rng["vendor"]
        p = self.cfg["reader_vendor"]
        if replacement:
            days = p["replacement"].days(rng)
            working = True
        else:
            days = p["lead"].days(rng)
            f = self.fires("reader-delay", "vendor")
            if f is not None:
                days += f.days if f.days is not None else 30
            working = self.fires("reader-doa", "vendor") is None
        self.send(self.t(today + timedelta(days=days), MAIL_ARRIVES),
                  self.c_reader_delivered, working)

    def k_line_order(self):
        days = self.cfg["carrier"]["lead"].days(self.rng["carrier"])
        self.send(self.t(self.today() + timedelta(days=days), OFFICE_OPENS), self.c_line_ready)

    def k_check(self, purpose, reply):
        if self.fires("carrier-outage", "carrier", purpose) is not None:
            self.send(self.env.now + 1, reply, "carrier-outage")
            return
        self.send(self.env.now + 1, self.ib_check, purpose, reply)

    # system vendor --------------------------------------------------------------------
    def sv_order(self, installation):
        day = self.cal.open_on_or_after(installation)
        self.send(self.t(day, OFFICE_OPENS), self.sv_installation_day)

    def sv_prerequisite(self, what):
        self.have.add(what)

    def sv_retry(self):
        if self.attempts >= self.cfg["sv"]["max_attempts"]:
            return
        day = self.cal.add_business_days(self.today(), self.cfg["sv"]["retry_after"])
        self.send(self.t(day, OFFICE_OPENS), self.sv_installation_day)

    def sv_installation_day(self):
        if self.sv_installed:
            return
        self.attempts += 1
        if len(self.have) < 4:  # reader, line, account, certificate
            self.send(self.env.now, self.c_installation_postponed)
            self.sv_retry()
            return
        self.send(self.env.now + 60, self.k_check, "installation", self.sv_check_result)

    def sv_check_result(self, failure):
        if failure is None:
            self.sv_installed = True
            self.send(self.env.now + 120, self.c_installation_done)
        elif failure in ("carrier-outage", "implementing-body-down"):
            self.sv_retry()


def outcome(w):
    if w.refused:
        return "not-designated"
    if w.returned:
        return "request-returned"
    if w.online is None:
        return "not-online"
    return "online-on-designation-day" if w.online <= w.cfg["designation"] else "online-late"


def replicate(cfg, seeds):
    env = simpy.Environment()
    w = World(env, cfg, seeds)
    w.start()
    # Events at the horizon instant are still handled (onsim: `now > horizon` stops).
    env.run(until=w.t(cfg["horizon"], 0) + 1)
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", help="scenario TOML (e.g. scenarios/sweeps/r2024-standard.toml)")
    ap.add_argument("--schedule", required=True, help="`onsim schedule --format json` output")
    ap.add_argument("--holidays", required=True, help="`onsim holidays` output")
    ap.add_argument("--runs", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.runs < 1:
        print("model.py: --runs must be at least 1", file=sys.stderr)
        sys.exit(2)
    try:
        cfg = load(a.scenario, a.schedule, a.holidays)
    except ModelError as e:
        print(f"model.py: {e}", file=sys.stderr)
        sys.exit(2)
    counts = dict.fromkeys(OUTCOMES, 0)
    delay = {}
    never = 0
    master = random.Random(a.seed)
    t0 = time.perf_counter()
    for _ in range(a.runs):
        w = replicate(cfg, [master.getrandbits(64) for _ in range(5)])
        counts[outcome(w)] += 1
        if w.online is None:
            never += 1
        else:
            dd = (w.online - cfg["designation"]).days
            delay[dd] = delay.get(dd, 0) + 1
    wall = time.perf_counter() - t0
    print(json.dumps({
        "format": "onsim-simpy/1",
        "scenario": a.scenario,
        "runs": a.runs,
        "seed": a.seed,
        "seconds": round(wall, 4),
        "simpy": simpy.__version__,
        "python": sys.version.split()[0],
        "outcomes": counts,
        "start_delay": {"online": a.runs - never, "never": never,
                        "histogram": [[k, v] for k, v in sorted(delay.items())]},
    }))


if __name__ == "__main__":
    main()
