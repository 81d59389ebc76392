"""The fuzz suite's real cluster (an etcd and an apiserver, nothing else: so every etcd write comes from the request
under test) and its request probe, which asserts per request: no 5xx, an answer on an intact connection, and for a
refused (4xx) or dry-run request an etcd revision that did not move.

The apiserver is secured as users run it (tests/support/secured.py: TLS, client certificates, the suite's
authorization mode); every request, generated or hand-made, is sent over TLS as the admin.

Bounded by knobs (environment; `pytest tests/fuzz --fuzz-full` sets the long run's defaults):
  KUBELITE_FUZZ_EXAMPLES   generated requests per operation and generation mode (CI default 3, full 40)
  KUBELITE_FUZZ_HANDMADE   examples per hand-made case (CI default 6, full 60)
  KUBELITE_FUZZ_SECONDS    time budget of the whole schemathesis run, shared out by operation (CI default 150,
                           full 1800); every operation gets at least one request
  KUBELITE_FUZZ_SEED       hypothesis seed (CI default 0: the same requests on every run; full: random)
  KUBELITE_FUZZ_REPORT     where to write the JSON report of requests and failures (default: the pytest tmp dir)
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import secrets
import select
import socket
import ssl
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from cli import supervise
from tests.support import secured

_FULL = {"KUBELITE_FUZZ_EXAMPLES": 40, "KUBELITE_FUZZ_HANDMADE": 60, "KUBELITE_FUZZ_SECONDS": 1800}
_CI = {"KUBELITE_FUZZ_EXAMPLES": 3, "KUBELITE_FUZZ_HANDMADE": 6, "KUBELITE_FUZZ_SECONDS": 150}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz-full", action="store_true", default=False,
                     help="kubelite fuzz: the long run's defaults (about 20,000 requests) instead of CI's")


@dataclass(frozen=True)
class Knobs:
    examples: int
    handmade: int
    seconds: float
    seed: int | None
    full: bool


@pytest.fixture(scope="session")
def knobs(request: pytest.FixtureRequest) -> Knobs:
    full = bool(request.config.getoption("--fuzz-full", default=False)) or os.environ.get("KUBELITE_FUZZ") == "full"
    defaults = _FULL if full else _CI
    value = {k: int(os.environ.get(k) or v) for k, v in defaults.items()}
    seed_text = os.environ.get("KUBELITE_FUZZ_SEED")
    seed = int(seed_text) if seed_text else (None if full else 0)
    return Knobs(value["KUBELITE_FUZZ_EXAMPLES"], value["KUBELITE_FUZZ_HANDMADE"], value["KUBELITE_FUZZ_SECONDS"],
                 seed, full)


# ---------------------------------------------------------------- the cluster


#: Keys the apiserver writes on its own schedule, whatever the requests: the compactor's bookkeeping key (as
#: Kubernetes' compactor keeps it). A revision moved only by writes to these is not the request's doing.
BACKGROUND_KEYS = frozenset({"compact_rev_key"})


class Etcd:
    """etcd's own view, read through its JSON gateway: the store revision and the keys written since one."""

    _ALL = base64.b64encode(b"\0").decode()

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=10)

    def _range(self, **extra: Any) -> dict[str, Any]:
        resp = self.http.post(f"{self.url}/v3/kv/range", json={"key": self._ALL, "range_end": self._ALL, **extra})
        resp.raise_for_status()
        return resp.json()

    def revision(self) -> int:
        return int(self._range(count_only=True)["header"]["revision"])

    def written_since(self, revision: int) -> list[str]:
        """Keys put after `revision` (deletions leave no key to show; the revision still counts them)."""
        found = self._range(keys_only=True, min_mod_revision=revision + 1).get("kvs") or []
        return [base64.b64decode(kv["key"]).decode(errors="replace") for kv in found]


@dataclass
class Cluster:
    url: str
    etcd: Etcd
    log: Path
    http: httpx.Client  # the admin
    tls: ssl.SSLContext  # the admin's client context, for the probe's own connections

    def create(self, path: str, obj: dict[str, Any]) -> int:
        """POST an object, 409 tolerated; the status code."""
        return self.http.post(path, json=obj).status_code


_PKIS: dict[Path, secured.TestPKI] = {}


def _pki(workdir: Path) -> secured.TestPKI:
    """One CA per work directory, shared by the clusters made in it."""
    if workdir not in _PKIS:
        _PKIS[workdir] = secured.TestPKI(workdir / "pki-home")
    return _PKIS[workdir]


def start_cluster(workdir: Path, name: str) -> tuple[Cluster, list[supervise.Daemon]]:
    etcd_url, etcd = supervise.start_etcd(f"{name}-etcd", workdir / f"{name}-etcd", workdir / "logs")
    pki = _pki(workdir)
    try:
        apiserver = secured.start_apiserver(pki, etcd_url, workdir / "logs", f"{name}-apiserver")
    except BaseException:
        supervise.stop(etcd)
        raise
    cluster = Cluster(apiserver.url, Etcd(etcd_url), apiserver.daemon.log, apiserver.http(timeout=30),
                      pki.ssl_context())
    return cluster, [apiserver.daemon, etcd]


@contextlib.contextmanager
def running_cluster(workdir: Path, name: str) -> Iterator[Cluster]:
    cluster, daemons = start_cluster(workdir, name)
    try:
        yield cluster
    finally:
        cluster.http.close()
        cluster.etcd.http.close()
        for daemon in daemons:
            supervise.stop(daemon)


@pytest.fixture(scope="session")
def fuzz_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubelite-fuzz")


@pytest.fixture(scope="session")
def cluster(fuzz_workdir: Path) -> Iterator[Cluster]:
    with running_cluster(fuzz_workdir, "fuzz") as c:
        yield c


# ---------------------------------------------------------------- one request, checked


@dataclass
class Outcome:
    label: str  # what was exercised: an operation or a hand-made case
    method: str
    target: str  # path and query as sent
    body: bytes
    status: int | None = None
    answer: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    moved: int = 0  # how far etcd's revision moved during the request
    written: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "5xx", "dropped", "no answer", "stored-when-refused", ...
    error: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.answer)
        except ValueError:
            return None

    def status_message(self) -> str:
        doc = self.json()
        if isinstance(doc, dict) and doc.get("kind") == "Status":
            return f"{doc.get('reason')}: {doc.get('message')}"
        return self.answer[:200].decode(errors="replace")

    def describe(self) -> str:
        body = self.body[:300].decode(errors="replace")
        text = (f"{self.method} {self.target[:300]}" + (f"\n    body: {body}" if body else "")
                + f"\n    -> {self.status} {self.status_message()[:300]}")
        if self.error:
            text += f"\n    error: {self.error}"
        if self.moved:
            text += f"\n    etcd revision moved by {self.moved}; keys written: {self.written[:5]}"
        return text


def _signature(outcome: Outcome, failure: str) -> str:
    """A cause to group by: the failure, the status and the message with values blanked out."""
    message = outcome.status_message() if outcome.status else outcome.error
    message = re.sub(r'"[^"]*"|\'[^\']*\'', "Q", message)
    message = re.sub(r"\d+", "N", message)[:160]
    return f"{failure} | {outcome.status} | {message}"


class Recorder:
    """Every request made, and the failures grouped by cause, written out at the end of the session."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.failures: dict[str, list[Outcome]] = defaultdict(list)
        self.by_suite: defaultdict[str, list[Outcome]] = defaultdict(list)
        self.statuses: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def add(self, suite: str, outcome: Outcome, seconds: float) -> None:
        self.requests[suite] += 1
        self.seconds[suite] += seconds
        self.statuses[suite][str(outcome.status)] += 1
        for failure in outcome.failures:
            key = _signature(outcome, failure)
            if len(self.failures[key]) < 20:
                self.failures[key].append(outcome)
            self.by_suite[suite].append(outcome)

    def report(self, suite: str | None = None) -> str:
        lines = []
        for key, outcomes in sorted(self.failures.items()):
            chosen = [o for o in outcomes if suite is None or o in self.by_suite[suite]]
            if chosen:
                lines.append(f"== {key}  ({len(chosen)}{'+' if len(outcomes) >= 20 else ''})")
                lines += [f"  [{o.label}] {o.describe()}" for o in chosen[:3]]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "statuses": {k: dict(v) for k, v in self.statuses.items()},
                "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
                "total_requests": sum(self.requests.values()),
                "failures": {key: [{"label": o.label, "method": o.method, "target": o.target[:500],
                                    "body": o.body[:500].decode(errors="replace"), "status": o.status,
                                    "answer": o.answer[:500].decode(errors="replace"), "error": o.error,
                                    "moved": o.moved, "written": o.written[:10]} for o in outcomes]
                             for key, outcomes in self.failures.items()}}


_RECORDER = Recorder()


@pytest.fixture(scope="session")
def recorder(fuzz_workdir: Path) -> Iterator[Recorder]:
    yield _RECORDER
    path = Path(os.environ.get("KUBELITE_FUZZ_REPORT") or fuzz_workdir / "fuzz-report.json")
    path.write_text(json.dumps(_RECORDER.as_json(), indent=1))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RECORDER.requests:
        return
    total = sum(_RECORDER.requests.values())
    seconds = sum(_RECORDER.seconds.values())
    terminalreporter.write_sep("-", f"kubelite fuzz: {total} requests in {seconds:.0f}s of requests")
    for suite, count in sorted(_RECORDER.requests.items()):
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(_RECORDER.statuses[suite].items()))
        terminalreporter.write_line(f"  {suite}: {count} requests, {_RECORDER.seconds[suite]:.0f}s ({statuses})")
    if _RECORDER.failures:
        terminalreporter.write_line(f"  failures by cause ({len(_RECORDER.failures)} causes):")
        terminalreporter.write_line(_RECORDER.report())


class Probe:
    """Sends one request at a time on a kept-alive connection and checks it against the contract."""

    def __init__(self, cluster: Cluster, recorder: Recorder, suite: str, tls: ssl.SSLContext | None = None,
                 expect_status: int | None = None) -> None:
        self.cluster = cluster
        self.recorder = recorder
        self.suite = suite
        self.tls = tls or cluster.tls  # whose credentials the probe presents (the admin's by default)
        self.expect_status = expect_status  # every answer must be this (401 for a probe without credentials)
        parts = urlsplit(cluster.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 443
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        """The kept-alive connection, or a new one if the server closed it while idle (as urllib3 checks)."""
        if self.conn is not None and self.conn.sock is not None:
            readable, _, _ = select.select([self.conn.sock], [], [], 0)
            if readable:  # EOF (or stray bytes) on an idle connection: it cannot carry a request
                self.close()
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=30, context=self.tls)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(self, label: str, method: str, path: str, *, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, body: bytes | str | None = None,
             dry_run: bool | None = None) -> Outcome:
        """`path` is sent verbatim (percent-escapes and all); a streaming (watch) answer is read for two seconds."""
        query = urlencode(params or {}, doseq=True)
        target = f"{path}?{query}" if query else path
        data = body.encode() if isinstance(body, str) else body or b""
        outcome = Outcome(label, method, target, data)
        sent_headers = {"Accept": "application/json", **(headers or {})}
        if data and not any(k.lower() == "content-type" for k in sent_headers):
            sent_headers["Content-Type"] = "application/json"
        watch = bool(re.search(r"(^|[?&])watch=", target))
        started = time.monotonic()
        before = self.cluster.etcd.revision()
        try:
            self._exchange(outcome, method, target, sent_headers, data, watch)
        finally:
            after = self.cluster.etcd.revision()
            outcome.moved = after - before
            if outcome.moved:
                outcome.written = self.cluster.etcd.written_since(before)
            if dry_run is None:
                dry_run = "dryRun=All" in target
            self._judge(outcome, dry_run)
            if self.expect_status is not None and outcome.status is not None and outcome.status != self.expect_status:
                outcome.failures.append(f"{outcome.status} where {self.expect_status} was due")
            self.recorder.add(self.suite, outcome, time.monotonic() - started)
        return outcome

    def _exchange(self, outcome: Outcome, method: str, target: str, headers: dict[str, str], data: bytes,
                  watch: bool) -> None:
        conn = self._connection()
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
        except ValueError as exc:  # http.client refuses to put it on the wire (a control character): not sent
            outcome.error = f"not sent: {exc}"
            return
        try:
            for name, value in headers.items():
                conn.putheader(name, value)
            if data or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data or None)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.failures.append("no answer (connection dropped)")
            return
        outcome.status = resp.status
        outcome.headers = {k.lower(): v for k, v in resp.getheaders()}
        # A watch is a stream that stays open: read it for two seconds, then cut it from a timer (a socket timeout
        # would leave http.client's reader unusable). Anything else must be complete within 20 s.
        sock = conn.sock
        cut = threading.Event()

        def end_stream() -> None:
            cut.set()
            with contextlib.suppress(OSError):
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(2.0 if watch else 20.0, end_stream)
        timer.start()
        chunks: list[bytes] = []
        try:
            while piece := resp.read1(65536):
                chunks.append(piece)
        except (OSError, http.client.HTTPException) as exc:
            if not cut.is_set():
                outcome.error = f"{type(exc).__name__}: {exc}"
                outcome.failures.append("answer cut off (connection dropped)")
        finally:
            timer.cancel()
            outcome.answer = b"".join(chunks)
            resp.close()  # http.client takes the next request only once this answer is closed
        if cut.is_set():
            self.close()
            if not watch:
                outcome.failures.append("no complete answer within 20s")
        elif resp.will_close or outcome.headers.get("connection", "").lower() == "close":
            self.close()

    @staticmethod
    def _judge(outcome: Outcome, dry_run: bool) -> None:
        if outcome.status is not None and outcome.status >= 500:
            outcome.failures.append("5xx")
        background = [k for k in outcome.written if k in BACKGROUND_KEYS]
        if background and len(background) == len(outcome.written) == outcome.moved:
            outcome.moved = 0  # the apiserver's own compactor wrote meanwhile, not the request
        refused = outcome.status is not None and 400 <= outcome.status < 500
        if outcome.moved and refused:
            outcome.failures.append("stored-when-refused")
        elif outcome.moved and dry_run:
            outcome.failures.append("stored-on-dry-run")


@pytest.fixture
def anonymous_probe(cluster: Cluster, fuzz_workdir: Path, recorder: Recorder) -> Iterator[Probe]:
    """A probe that presents no client certificate: every API request must be a 401 that changes nothing."""
    p = Probe(cluster, recorder, "anonymous", tls=_pki(fuzz_workdir).ssl_context(None), expect_status=401)
    yield p
    p.close()


@pytest.fixture
def probe(cluster: Cluster, recorder: Recorder, request: pytest.FixtureRequest) -> Iterator[Probe]:
    suite = request.node.module.__name__.rsplit(".", 1)[-1]
    p = Probe(cluster, recorder, suite)
    yield p
    p.close()


@pytest.fixture
def unique() -> str:
    """A fresh name suffix per test."""
    return secrets.token_hex(3)
