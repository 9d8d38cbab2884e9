"""testcontainers-python module for the onsim image (``onsim serve`` in a container).

Start the image with ordinary port mapping (never host networking), read its
``endpoints.json`` with container ports mapped to host ports, use the client
credentials it writes under its state dir, move its virtual clock, read its verdict::

    from onsim_testcontainers import OnsimContainer

    with OnsimContainer() as onsim:
        valid = onsim.credential("valid")
        patient = onsim.population()[0]
        xml = patient.single_inquiry(onsim.institution_code, onsim.clock().date_yyyymmdd, "demo-1")
        r = onsim.confirm(valid, xml)            # requests.Response, mutual TLS
        assert "<QualificationValidity>1</QualificationValidity>" in r.text
        onsim.advance(days=1)

The state dir is a host folder bind-mounted at ``/state`` (a temporary one unless
``state_dir`` is given); the container runs as the calling user so the private keys
it writes (mode 0600) stay readable and the folder removable.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence
from xml.sax.saxutils import escape

import requests
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

__all__ = [
    "Check",
    "Clock",
    "Credential",
    "HostUrl",
    "OnsimContainer",
    "OnsimError",
    "Patient",
    "image_ref",
    "PORT_BASE",
    "PORTS",
    "READY_LINE",
    "Finished",
    "Verdict",
]

#: The line ``onsim serve`` prints on stderr once endpoints.json is written.
READY_LINE = "onsim serve: ready"
#: The port base inside the container (the image's CMD, ``--port-base 7000``).
PORT_BASE = 7000
#: The 7 ports it takes, all published to random host ports.
PORTS = tuple(range(PORT_BASE, PORT_BASE + 7))
#: Where the state dir is mounted inside the container.
STATE = "/state"
#: Where a scenario file is mounted (read-only) inside the container.
SCENARIO = "/scenario"
#: Default longest wait for the ready line (our choice: debug-built images make their
#: RSA keys in seconds; 60 s leaves room on a loaded CI machine).
STARTUP_S = 60
#: Longest wait for one HTTP call (our choice).
CALL_S = 30
#: The columns of population.csv, in order.
POPULATION_HEADER = [
    "insurer_number",
    "insured_card_symbol",
    "insured_identification_number",
    "insured_branch_number",
    "birthdate",
    "expected_validity",
    "note",
]


def image_ref() -> str:
    """The image under test: ``onsim:dev`` (what scripts/image builds) or ``ONSIM_IMAGE``."""
    return os.environ.get("ONSIM_IMAGE") or "onsim:dev"


class OnsimError(Exception):
    """What went wrong, naming what and where (a file, a key, a URL)."""


@dataclass(frozen=True)
class HostUrl:
    """A URL of endpoints.json as reached from the host."""

    #: Same scheme, host name and path; the published host port.
    url: str
    #: The advertised host of the URL (what TLS checks the certificate against).
    host: str
    #: The published host port.
    port: int
    #: The address to connect to.
    connect_ip: str


@dataclass(frozen=True)
class Credential:
    """A client credential of onsim's PKI matrix, as host files (PEM)."""

    name: str
    cert: Path
    key: Path
    #: The refusal the eligibility API gives it (None for ``valid``), as logged
    #: (``refusal="<code>"``).
    expected_refusal: Optional[str]

    def cert_pem(self) -> bytes:
        return _read(self.cert)

    def key_pem(self) -> bytes:
        return _read(self.key)


@dataclass(frozen=True)
class Clock:
    """``GET /clock``: the virtual clock."""

    #: ``YYYY-MM-DDTHH:MM`` (JST, naive).
    now: str
    #: Virtual seconds per real second (0 = frozen).
    speed: float
    #: Messages delivered by the jump (after an advance), else None.
    delivered: Optional[int]
    raw: dict = field(repr=False)

    @property
    def date_yyyymmdd(self) -> str:
        """The date of ``now`` as ``YYYYMMDD`` (the XmlMsg date form)."""
        return self.now[:10].replace("-", "")


@dataclass(frozen=True)
class Patient:
    """One row of population.csv: an insured person and the outcome it should get."""

    insurer_number: str
    insured_card_symbol: str
    insured_identification_number: str
    insured_branch_number: str
    birthdate: str
    #: The QualificationValidity code (1-5) an inquiry should get.
    expected_validity: str
    note: str

    def single_inquiry(self, institution: str, date: str, ident: str) -> str:
        """A UTF-8 single inquiry (OQSsiquc01req, CharacterCodeIdentifier 0) for this
        person at ``institution`` on ``date`` (YYYYMMDD), echoing ``ident`` as its
        ArbitraryFileIdentifier (docs/INTERFACE.md)."""

        def opt(name: str, v: str) -> str:
            return f"<{name}>{escape(v)}</{name}>" if v else ""

        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
            "<XmlMsg><MessageHeader>"
            f"<QualificationConfirmationDate>{escape(date)}</QualificationConfirmationDate>"
            f"<MedicalInstitutionCode>{escape(institution)}</MedicalInstitutionCode>"
            f"<ArbitraryFileIdentifier>{escape(ident)}</ArbitraryFileIdentifier>"
            "<CharacterCodeIdentifier>0</CharacterCodeIdentifier>"
            "</MessageHeader><MessageBody><QualificationConfirmSearchInfo>"
            f"<InsurerNumber>{escape(self.insurer_number)}</InsurerNumber>"
            f"{opt('InsuredCardSymbol', self.insured_card_symbol)}"
            f"<InsuredIdentificationNumber>{escape(self.insured_identification_number)}</InsuredIdentificationNumber>"
            f"{opt('InsuredBranchNumber', self.insured_branch_number)}"
            f"<Birthdate>{escape(self.birthdate)}</Birthdate>"
            "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n"
        )


@dataclass
class Check:
    """One ``[[expect]]`` of the scenario and how it fared: ``status`` is
    ``passed``, ``failed`` or ``not-judged`` (what only the clinic's first patient
    shows, when the system under test plays the clinic)."""

    expectation: str
    status: str
    explanation: Optional[str] = None


@dataclass
class Verdict:
    """``onsim serve --scenario``'s verdict (``GET {control_url}/verdict``, and
    ``verdict.json`` in the state dir on shutdown); ``raw`` is the whole JSON.
    Unknown keys are ignored; a missing one raises OnsimError naming it."""

    scenario: str
    name: str
    clinic: str
    now: str
    settled: bool
    passed: bool
    outcome: str
    online_start: Optional[str]
    checks: list[Check]
    timeline: list[dict]
    raw: dict = field(repr=False)

    STATUSES = ("passed", "failed", "not-judged")

    @classmethod
    def from_json(cls, raw: dict, where: str) -> "Verdict":
        def need(key: str, kind: type) -> Any:
            v = raw.get(key)
            if not isinstance(v, kind):
                raise OnsimError(f"{where}: verdict has no {kind.__name__} {key!r}: {raw}")
            return v

        checks = []
        for i, c in enumerate(need("checks", list)):
            if not isinstance(c, dict) or c.get("status") not in cls.STATUSES or not isinstance(c.get("expectation"), str):
                raise OnsimError(f"{where}: verdict checks[{i}] is not an expectation with a status in {cls.STATUSES}: {c}")
            checks.append(Check(c["expectation"], c["status"], c.get("explanation")))
        return cls(
            scenario=need("scenario", str),
            name=need("name", str),
            clinic=need("clinic", str),
            now=need("now", str),
            settled=need("settled", bool),
            passed=need("passed", bool),
            outcome=need("outcome", str),
            online_start=raw.get("online_start"),
            checks=checks,
            timeline=raw.get("timeline", []),
            raw=raw,
        )

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "failed"]


@dataclass
class Finished:
    """How a stopped ``onsim serve --scenario`` ended: exit code 0 (passed) or 1
    (failed), as ``onsim run``, and the verdict files it wrote on shutdown."""

    exit_code: int
    verdict: Verdict
    junit: str


def read_population(path: Path) -> list[Patient]:
    """Every data row of population.csv (its header checked)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != POPULATION_HEADER:
        got = ",".join(rows[0]) if rows else "(empty file)"
        raise OnsimError(f"{path}: header is {got!r}, expected {','.join(POPULATION_HEADER)}")
    out = []
    for n, r in enumerate(rows[1:], start=2):
        if len(r) != len(POPULATION_HEADER):
            raise OnsimError(f"{path}:{n}: {len(r)} fields, expected {len(POPULATION_HEADER)}")
        out.append(Patient(*r))
    return out


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise OnsimError(f"{path}: {e.strerror or e}") from e


_URL = re.compile(r"^(?P<scheme>[a-z]+)://(?P<host>\[[^\]]+\]|[^/:]+):(?P<port>\d+)(?P<path>/.*)?$")


def map_url(url: str, ports: dict[int, int], connect_ip: str) -> HostUrl:
    """``url`` (on a container port) as reached from the host."""
    m = _URL.match(url)
    if not m:
        raise OnsimError(f"{url}: not a URL with a host and a port")
    port = int(m["port"])
    if port not in ports:
        raise OnsimError(f"{url}: port {port} is not one of the published ports {PORTS[0]}-{PORTS[-1]}")
    host = m["host"]
    return HostUrl(
        url=f"{m['scheme']}://{host}:{ports[port]}{m['path'] or ''}",
        host=host.strip("[]"),
        port=ports[port],
        connect_ip=connect_ip,
    )


def _calling_user() -> Optional[str]:
    if hasattr(os, "getuid"):
        return f"{os.getuid()}:{os.getgid()}"
    return None


class OnsimContainer(DockerContainer):
    """The onsim image, started with its 7 ports published to random host ports.

    ``state_dir``: a host folder (missing or empty, or a previous run's); default a
    temporary one, removed on stop. ``advertise``: ``onsim serve --advertise`` (the
    host in endpoints.json's URLs and the server certificate; default the image's,
    127.0.0.1). ``scenario``: a scenario file for ``onsim serve --scenario``
    (mounted read-only). ``args``: further ``onsim serve`` flags. ``user``:
    ``uid:gid`` the container runs as (default the calling user; None for the
    image's root).
    """

    def __init__(
        self,
        image: Optional[str] = None,
        *,
        state_dir: Optional[os.PathLike | str] = None,
        advertise: Optional[str] = None,
        scenario: Optional[os.PathLike | str] = None,
        args: Sequence[str] = (),
        user: Optional[str] = "calling",
        startup_timeout: int = STARTUP_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(image or image_ref(), **kwargs)
        self._own_state = state_dir is None
        self._state_arg = state_dir
        self.state_dir: Optional[Path] = None
        self._advertise = advertise
        self._scenario = Path(scenario).resolve() if scenario is not None else None
        self._args = list(args)
        self._user = _calling_user() if user == "calling" else user
        self._startup_timeout = startup_timeout
        self.endpoints: dict = {}
        #: Container port -> published host port.
        self.host_ports: dict[int, int] = {}
        self.host_ip = ""
        self._http = requests.Session()

    def serve_args(self) -> list[str]:
        """The ``onsim serve`` arguments (after the image's entrypoint)."""
        cmd = ["--state-dir", STATE, "--port-base", str(PORT_BASE)]
        if self._advertise:
            cmd += ["--advertise", self._advertise]
        if self._scenario is not None:
            cmd += ["--scenario", f"{SCENARIO}/{self._scenario.name}"]
        return cmd + self._args

    def start(self) -> "OnsimContainer":
        if self._own_state:
            self.state_dir = Path(tempfile.mkdtemp(prefix="onsim-state-"))
        else:
            self.state_dir = Path(self._state_arg)
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.state_dir.resolve()
        self.with_volume_mapping(str(self.state_dir), STATE, "rw")
        if self._scenario is not None:
            if not self._scenario.is_file():
                raise OnsimError(f"{self._scenario}: no such scenario file")
            self.with_volume_mapping(str(self._scenario), f"{SCENARIO}/{self._scenario.name}", "ro")
        self.with_exposed_ports(*PORTS)
        self.with_command(self.serve_args())
        if self._user:
            self.with_kwargs(user=self._user)
        self.waiting_for(LogMessageWaitStrategy(READY_LINE).with_startup_timeout(self._startup_timeout))
        try:
            super().start()
            host = self.get_container_host_ip()
            self.host_ip = "127.0.0.1" if host == "localhost" else host.strip("[]")
            self.host_ports = {p: int(self.get_exposed_port(p)) for p in PORTS}
            path = self.state_dir / "endpoints.json"
            try:
                self.endpoints = json.loads(_read(path))
            except ValueError as e:
                raise OnsimError(f"{path}: not JSON: {e}") from e
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        try:
            if self._container is not None:
                super().stop(force=force, delete_volume=delete_volume)
        finally:
            self._http.close()
            if self._own_state and self.state_dir is not None:
                shutil.rmtree(self.state_dir, ignore_errors=True)

    # endpoints, files, credentials

    def value(self, key: str) -> Any:
        """A value of endpoints.json as written (container ports, /state paths)."""
        if key not in self.endpoints:
            raise OnsimError(f"endpoints.json has no {key}")
        return self.endpoints[key]

    @property
    def institution_code(self) -> str:
        """The institution code the ``valid`` credential is bound to."""
        return self.value("institution_code")

    def host_path(self, in_container: str) -> Path:
        """A path named in endpoints.json (``/state/...``) on the host."""
        if in_container == STATE or in_container.startswith(STATE + "/"):
            return self.state_dir / in_container[len(STATE) :].lstrip("/")
        return Path(in_container)

    def file(self, key: str) -> Path:
        """The host file of a path key (server_ca, population_csv, terminal_dir, pki_dir)."""
        return self.host_path(self.value(key))

    @property
    def server_ca(self) -> Path:
        return self.file("server_ca")

    @property
    def terminal_dir(self) -> Path:
        return self.file("terminal_dir")

    def credential(self, name: str) -> Credential:
        """Credential ``name`` (valid, expired, not-yet-valid, revoked, wrong-ca,
        other-institution) as host files."""
        c = self.value("credentials").get(name)
        if not isinstance(c, dict) or "cert" not in c or "key" not in c:
            raise OnsimError(f"endpoints.json has no credentials.{name} with cert and key")
        return Credential(name, self.host_path(c["cert"]), self.host_path(c["key"]), c.get("expected_refusal"))

    def credential_names(self) -> list[str]:
        return sorted(self.value("credentials"))

    def population(self) -> list[Patient]:
        return read_population(self.file("population_csv"))

    def host_url(self, key: str) -> HostUrl:
        """URL key ``key`` of endpoints.json as reached from the host."""
        return map_url(self.value(key), self.host_ports, self.host_ip)

    def logs_text(self) -> str:
        """What the container wrote on stderr so far (its log), without colour codes."""
        _, err = self.get_logs()
        return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", err.decode("utf-8", "replace"))

    # control API (plain HTTP + JSON)

    def _control(self, path: str) -> str:
        u = self.host_url("control_url")
        ip = f"[{u.connect_ip}]" if ":" in u.connect_ip else u.connect_ip
        return f"http://{ip}:{u.port}{path}"

    def _json(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        url = self._control(path)
        try:
            r = self._http.request(method, url, json=body, timeout=CALL_S)
        except requests.RequestException as e:
            raise OnsimError(f"{url}: {e}") from e
        if not 200 <= r.status_code < 300:
            raise OnsimError(f"{url}: HTTP {r.status_code}: {r.text}")
        try:
            return r.json()
        except ValueError as e:
            raise OnsimError(f"{url}: not JSON: {r.text}") from e

    def control_get(self, path: str) -> dict:
        """Any GET on the control port (/inbox, /trace, /deadlines, ...)."""
        return self._json("GET", path)

    def clock(self) -> Clock:
        """``GET /clock``."""
        return self._clock(self._json("GET", "/clock"))

    def advance(
        self,
        *,
        days: Optional[int] = None,
        hours: Optional[int] = None,
        minutes: Optional[int] = None,
        to: Optional[str] = None,
    ) -> Clock:
        """``POST /clock/advance`` with exactly one of days, hours, minutes, to."""
        given = {k: v for k, v in {"days": days, "hours": hours, "minutes": minutes, "to": to}.items() if v is not None}
        if len(given) != 1:
            raise OnsimError(f"advance takes exactly one of days, hours, minutes, to (given: {sorted(given) or 'none'})")
        return self._clock(self._json("POST", "/clock/advance", given))

    def verdict(self, timeline: bool = False) -> Verdict:
        """``GET {control_url}/verdict``: the scenario's expectations judged so far
        (``onsim serve --scenario``, issue 17 item 1); with ``timeline``, every
        event up to now too. Without a scenario onsim answers 404 (OnsimError)."""
        path = "/verdict?timeline=1" if timeline else "/verdict"
        return Verdict.from_json(self._json("GET", path), self._control(path))

    def finish(self, grace_s: int = 30) -> Finished:
        """Stop the container as ``docker stop`` does (SIGTERM, SIGKILL after
        ``grace_s``) and read how ``onsim serve --scenario`` ended: its exit code
        and the verdict.json / verdict.junit.xml it wrote into the state dir. The
        container is removed (and a temporary state dir deleted) by ``stop()``."""
        c = self.get_wrapped_container()
        c.stop(timeout=grace_s)
        c.reload()
        code = c.attrs.get("State", {}).get("ExitCode")
        if not isinstance(code, int):
            raise OnsimError(f"container {c.id}: stopped but reports no exit code")
        path = self.state_dir / "verdict.json"
        try:
            raw = json.loads(_read(path))
        except ValueError as e:
            raise OnsimError(f"{path}: not JSON: {e}") from e
        junit = _read(self.state_dir / "verdict.junit.xml").decode("utf-8")
        return Finished(exit_code=code, verdict=Verdict.from_json(raw, str(path)), junit=junit)

    def _clock(self, raw: dict) -> Clock:
        now = raw.get("now")
        if not isinstance(now, str) or len(now) < 16 or not isinstance(raw.get("speed"), (int, float)):
            raise OnsimError(f"{self._control('/clock')}: unexpected clock answer {raw}")
        d = raw.get("delivered")
        return Clock(now=now, speed=float(raw["speed"]), delivered=d if isinstance(d, int) else None, raw=raw)

    # eligibility API (mutual TLS)

    def confirm(self, credential: Credential, xml: str, key: str = "eligibility_url") -> requests.Response:
        """POST a single inquiry to ``key`` (eligibility_url, or
        eligibility_via_carrier_url through the carrier proxy) over mutual TLS with
        ``credential``, checking the server against server-ca.crt. The advertised
        host must resolve to the published ports (true for the default, 127.0.0.1)."""
        u = self.host_url(key)
        return requests.post(
            u.url,
            data=xml.encode("utf-8"),
            headers={"Content-Type": "application/xml"},
            cert=(str(credential.cert), str(credential.key)),
            verify=str(self.server_ca),
            timeout=CALL_S,
        )
