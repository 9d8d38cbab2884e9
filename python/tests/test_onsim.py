"""onsim_testcontainers against the real image (scripts/image builds onsim:dev;
ONSIM_IMAGE picks another), through ordinary port mapping: start it, confirm one
patient over mutual TLS with requests and the ``valid`` client certificate, see
``expired`` refused, read and move the virtual clock, and find the container and
its temporary state dir gone afterwards. The unit tests at the top need no Docker.

Without a Docker engine or the image the container test is skipped, loudly; with
ONSIM_REQUIRE_DOCKER=1 (scripts/test, after scripts/image) it fails instead.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from onsim_testcontainers import (
    POPULATION_HEADER,
    OnsimContainer,
    OnsimError,
    Patient,
    Verdict,
    image_ref,
    map_url,
    read_population,
)


def test_urls_keep_name_and_path_and_take_the_host_port():
    ports = {p: p + 30000 for p in range(7000, 7007)}
    u = map_url("https://onsim:7005/eligibility", ports, "127.0.0.1")
    assert (u.url, u.host, u.port, u.connect_ip) == ("https://onsim:37005/eligibility", "onsim", 37005, "127.0.0.1")
    assert map_url("http://[::1]:7000", ports, "::1").url == "http://[::1]:37000"
    with pytest.raises(OnsimError, match="port 9999 is not one of the published ports 7000-7006"):
        map_url("http://onsim:9999/x", ports, "127.0.0.1")
    with pytest.raises(OnsimError, match="not a URL"):
        map_url("onsim:7000", ports, "127.0.0.1")


def test_population_rows_and_the_inquiry_for_one(tmp_path):
    p = tmp_path / "population.csv"
    p.write_text(",".join(POPULATION_HEADER) + '\n06123456,,1234,,19800101,1,"valid, example"\n'
                 "39131234,記号,5678,01,19450505,3,lost\n", encoding="utf-8")
    rows = read_population(p)
    assert [r.note for r in rows] == ["valid, example", "lost"]
    xml = rows[1].single_inquiry("1310101017", "20250401", "a&b")
    assert "<InsuredCardSymbol>記号</InsuredCardSymbol>" in xml
    assert "<ArbitraryFileIdentifier>a&amp;b</ArbitraryFileIdentifier>" in xml
    assert "InsuredCardSymbol" not in rows[0].single_inquiry("1310101017", "20250401", "x")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(OnsimError, match="header is 'a,b'"):
        read_population(tmp_path / "bad.csv")


def test_serve_args_and_advance_arguments():
    c = OnsimContainer(advertise="onsim", args=["--households", "2000"])
    assert c.serve_args() == ["--state-dir", "/state", "--port-base", "7000", "--advertise", "onsim", "--households", "2000"]
    with pytest.raises(OnsimError, match="exactly one of days, hours, minutes, to"):
        c.advance(days=1, hours=2)


def _docker_ready() -> str | None:
    """None when the engine and the image are there, else why not."""
    try:
        r = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", image_ref()],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"no docker client ({e})"
    if r.returncode != 0:
        return f"no Docker engine or no {image_ref()} image (build it with scripts/image): {r.stderr.strip()}"
    return None


def _exists(container_id: str) -> bool:
    r = subprocess.run(["docker", "container", "inspect", container_id], capture_output=True, timeout=30)
    return r.returncode == 0


def _need_docker() -> None:
    why = _docker_ready()
    if why is not None:
        if os.environ.get("ONSIM_REQUIRE_DOCKER") == "1":
            pytest.fail(f"ONSIM_REQUIRE_DOCKER=1 but {why}")
        pytest.skip(f"!!!!!!!! SKIPPED: {why} !!!!!!!!")


def test_start_confirm_one_patient_over_mtls_and_move_the_clock():
    _need_docker()
    t0 = time.monotonic()
    with OnsimContainer(args=["--households", "2000"]) as onsim:
        ready = time.monotonic() - t0
        cid = onsim.get_container_id()
        state = onsim.state_dir
        assert onsim.value("bind") == "0.0.0.0"
        assert sorted(onsim.host_ports) == list(range(7000, 7007))
        elig = onsim.host_url("eligibility_url")
        assert elig.url == f"https://127.0.0.1:{onsim.host_ports[7005]}/eligibility"

        # Credentials the container wrote, readable here (keys are 0600; it ran as us).
        assert {"valid", "expired", "not-yet-valid", "revoked", "wrong-ca", "other-institution"} <= set(onsim.credential_names())
        valid = onsim.credential("valid")
        assert valid.cert_pem().startswith(b"-----BEGIN CERTIFICATE-----")
        assert b"PRIVATE KEY-----" in valid.key_pem()
        assert valid.expected_refusal is None

        # One patient over mutual TLS (requests, client certificate), as population.csv says.
        clock = onsim.clock()
        assert clock.now == "2025-04-01T09:00"
        patients = onsim.population()
        p = next(p for p in patients if p.expected_validity == "1")
        xml = p.single_inquiry(onsim.institution_code, clock.date_yyyymmdd, "tc-py-1")
        r = onsim.confirm(valid, xml)
        assert r.status_code == 200, r.text
        assert "<QualificationValidity>1</QualificationValidity>" in r.text
        assert "tc-py-1" in r.text
        other = next(p for p in patients if p.expected_validity != "1")
        r = onsim.confirm(valid, other.single_inquiry(onsim.institution_code, clock.date_yyyymmdd, "tc-py-2"),
                          key="eligibility_via_carrier_url")
        assert f"<QualificationValidity>{other.expected_validity}</QualificationValidity>" in r.text, r.text

        # An expired credential: refused (TLS alert or 403), never answered.
        try:
            r = onsim.confirm(onsim.credential("expired"), xml)
            assert r.status_code == 403 and "<QualificationValidity>" not in r.text, r.text
        except requests.exceptions.SSLError:
            pass
        except requests.exceptions.ConnectionError:
            pass
        deadline = time.monotonic() + 5
        while 'refusal="expired"' not in onsim.logs_text():
            assert time.monotonic() < deadline, onsim.logs_text()
            time.sleep(0.05)

        # The virtual clock: a day on; a jump back refused with the service's 422.
        assert onsim.advance(days=1).now == "2025-04-02T09:00"
        assert onsim.clock().now == "2025-04-02T09:00"
        with pytest.raises(OnsimError, match="HTTP 422"):
            onsim.advance(to="2025-04-01")
    assert not _exists(cid), f"container {cid} removed"
    assert not state.exists(), f"temporary state dir {state} removed"
    print(f"onsim_testcontainers: ready after {ready:.2f} s, test {time.monotonic() - t0:.2f} s")


#: The module tests' scenario, shared with the Rust module's test: onsim plays the
#: clinic of a Hiroshima clinic designated 2024-10-01 on the recommended plan.
SCENARIO_FILE = Path(__file__).resolve().parents[2] / "onsim-testcontainers/tests/fixtures/onsim-plays-the-clinic.toml"


def test_verdict_shape_is_read_and_a_missing_key_is_named():
    raw = {"scenario": "/scenario/x.toml", "name": "x", "clinic": "onsim", "now": "2024-10-02T09:00",
           "settled": True, "passed": True, "outcome": "online-on-designation-day", "online_start": "2024-10-01",
           "checks": [{"expectation": "outcome = online-on-designation-day", "status": "passed"}], "new_key": 1}
    v = Verdict.from_json(raw, "here")
    assert v.passed and v.checks[0].status == "passed" and v.failed() == [] and v.raw["new_key"] == 1
    del raw["passed"]
    with pytest.raises(OnsimError, match="'passed'"):
        Verdict.from_json(raw, "here")
    raw["passed"] = False
    raw["checks"][0]["status"] = "maybe"
    with pytest.raises(OnsimError, match=r"checks\[0\]"):
        Verdict.from_json(raw, "here")


def test_a_scenario_runs_in_the_container_and_its_verdict_is_read():
    _need_docker()
    onsim = OnsimContainer(scenario=SCENARIO_FILE, args=["--households", "500"])
    args = onsim.serve_args()
    assert args[args.index("--scenario") + 1] == "/scenario/onsim-plays-the-clinic.toml", args
    with onsim:
        cid = onsim.get_container_id()
        v = onsim.verdict()
        assert v.clinic == "onsim" and not v.settled and not v.passed, v.raw

        after = onsim.advance(to="2024-10-02")
        assert after.now.startswith("2024-10-02"), after
        p = next(p for p in onsim.population() if p.expected_validity == "1")
        r = onsim.confirm(onsim.credential("valid"), p.single_inquiry(onsim.institution_code, after.date_yyyymmdd, "tc-py-scenario"))
        assert r.status_code == 200 and "<QualificationValidity>1</QualificationValidity>" in r.text, r.text

        v = onsim.verdict(timeline=True)
        assert v.passed and v.settled, v.raw
        assert v.outcome == "online-on-designation-day" and v.online_start == "2024-10-01"
        assert v.timeline, "the timeline was asked for"
        done = onsim.finish(grace_s=30)
        assert done.exit_code == 0, onsim.logs_text()
        assert done.verdict.passed and done.verdict.checks == v.checks
        assert "<testsuite" in done.junit and "<failure" not in done.junit, done.junit
    assert not _exists(cid), f"container {cid} removed"
