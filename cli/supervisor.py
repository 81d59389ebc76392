"""The local cluster's supervisor: `python -m cli.supervisor --home HOME` runs every daemon `klite up` asked for and
restarts any that exits, as systemd's Restart=always or k3s's supervisor do.

`klite up` writes `<home>/run/supervisor-spec.json` (the daemons in start order: name, argv, an optional readiness
URL) and starts this process detached (its own session, so it outlives `klite up` and no terminal signal reaches
it). The supervisor:

* starts the daemons in order, each after the previous one answered its readiness URL (etcd before the apiserver
  before the rest), or after `--gate-timeout` seconds if it never does;
* restarts a daemon that exits, whatever its exit code, after a back-off that doubles from `--backoff-initial` up
  to `--backoff-max` and starts over once a run lasted `--backoff-reset` seconds (kubelet's CrashLoopBackOff shape);
* records each daemon's PID, start time, restart count and last exit in `<home>/run/supervisor.json` (written
  atomically; `klite status` reads it) and its PID in `<home>/run/<name>.pid`;
* on SIGTERM or SIGINT stops the daemons in reverse order (SIGTERM, SIGKILL after `--stop-timeout`) and exits.

If the supervisor itself is killed, even with SIGKILL, its daemons get SIGTERM from the kernel
(PR_SET_PDEATHSIG), so nothing runs on unsupervised; and a new supervisor first stops, by PID, whatever daemon
an earlier one recorded that still runs, so a restart never doubles a daemon.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cli import supervise
from kube import log as kube_log
from kube.client.rest import tls_context

__all__ = ["SPEC", "STATUS", "Backoff", "main", "spec_path", "status_path"]

log = logging.getLogger("supervisor")

SPEC = "supervisor-spec.json"
STATUS = "supervisor.json"
TICK = 0.1  # seconds between looks at the children
PR_SET_PDEATHSIG = 1


def spec_path(home: Path) -> Path:
    return home / "run" / SPEC


def status_path(home: Path) -> Path:
    return home / "run" / STATUS


@dataclass(frozen=True)
class Backoff:
    """Delay before restart number n of a daemon whose recent runs were short."""

    initial: float = 1.0
    maximum: float = 30.0
    reset_after: float = 60.0  # a run this long counts as healthy: the next failure starts from `initial`

    def delay(self, quick_failures: int) -> float:
        return min(self.initial * 2 ** max(quick_failures - 1, 0), self.maximum)


@dataclass
class Child:
    """One supervised daemon and what is known of it."""

    name: str
    argv: list[str]
    log_path: Path
    ready_url: str | None = None
    ready_ca: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    started_at: float | None = None  # wall clock, for uptime shown by other processes
    started_mono: float = 0.0
    restarts: int = 0
    quick_failures: int = 0
    last_exit: int | None = None
    last_exit_at: float | None = None
    next_start: float | None = None  # monotonic; set while waiting out a back-off
    gated: bool = False  # answered its readiness URL once (or no URL, or the gate timed out)
    gate_deadline: float = 0.0

    @property
    def marker(self) -> str:
        return " ".join(self.argv[:3])

    def status(self) -> dict[str, Any]:
        running = self.proc is not None and self.proc.returncode is None
        state = "running" if running else ("waiting" if self.next_start is not None else "stopped")
        return {"name": self.name, "pid": self.proc.pid if running and self.proc else None, "state": state,
                "started": self.started_at if running else None, "restarts": self.restarts,
                "last_exit": self.last_exit, "last_exit_at": self.last_exit_at, "log": str(self.log_path),
                "marker": self.marker, "ready_url": self.ready_url, "ready_ca": self.ready_ca,
                "next_start_in": (max(0.0, self.next_start - time.monotonic()) if self.next_start is not None
                                  else None)}


def _die_with_parent(parent: int) -> None:
    """In the child before exec: SIGTERM when the supervisor dies (however), and exit if it already did."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)


class Supervisor:
    def __init__(self, home: Path, children: list[Child], backoff: Backoff, stop_timeout: float,
                 gate_timeout: float) -> None:
        self.home = home
        self.children = children
        self.backoff = backoff
        self.stop_timeout = stop_timeout
        self.gate_timeout = gate_timeout
        self.stopping = False
        self.started_at = time.time()
        self._last_status = ""

    # ------------------------------------------------------------------ children

    def _spawn(self, child: Child) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        parent = os.getpid()
        with open(child.log_path, "ab") as log_file:
            try:
                child.proc = subprocess.Popen(
                    child.argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                    env={**os.environ, **child.env}, preexec_fn=lambda: _die_with_parent(parent))
            except OSError as exc:  # e.g. the binary is gone: counts as an exit, retried after the back-off
                log.error("cannot start %s: %s", child.name, exc)
                child.proc = None
                self._exited(child, 127)
                return
        child.started_at, child.started_mono, child.next_start = time.time(), time.monotonic(), None
        child.gate_deadline = child.started_mono + self.gate_timeout
        (self.home / "run" / f"{child.name}.pid").write_text(str(child.proc.pid))
        log.info("started %s (pid %d, restarts %d)", child.name, child.proc.pid, child.restarts)

    def _exited(self, child: Child, code: int) -> None:
        now = time.monotonic()
        ran = now - child.started_mono if child.started_mono else 0.0
        child.last_exit, child.last_exit_at = code, time.time()
        child.quick_failures = 1 if ran >= self.backoff.reset_after else child.quick_failures + 1
        if self.stopping:
            return
        delay = self.backoff.delay(child.quick_failures)
        child.next_start = now + delay
        log.warning("%s exited with %s after %.1fs; restarting in %.1fs", child.name, code, ran, delay)

    def _gate_passed(self, child: Child) -> bool:
        if child.gated:
            return True
        if child.ready_url is None or time.monotonic() > child.gate_deadline:
            if child.ready_url is not None:
                log.warning("%s did not answer %s in %.0fs; starting the next daemons anyway", child.name,
                            child.ready_url, self.gate_timeout)
            child.gated = True
            return True
        try:
            verify: Any = tls_context(child.ready_ca) if child.ready_ca else True
            child.gated = httpx.get(child.ready_url, timeout=0.5, verify=verify).status_code == 200
        except (httpx.HTTPError, OSError):
            pass
        return child.gated

    def tick(self) -> None:
        """One look at every child: reap, restart what is due, start the next one whose predecessors are up."""
        now = time.monotonic()
        for child in self.children:
            if child.proc is not None and child.proc.returncode is None:
                code = child.proc.poll()
                if code is not None:
                    self._exited(child, code)
        predecessors_up = True
        for child in self.children:
            if child.proc is None and child.next_start is None:  # never started yet
                if predecessors_up:
                    child.restarts = 0
                    self._spawn(child)
                predecessors_up = False
                continue
            if child.next_start is not None and now >= child.next_start:
                child.restarts += 1
                self._spawn(child)
            running = child.proc is not None and child.proc.returncode is None
            predecessors_up = predecessors_up and (child.gated or (running and self._gate_passed(child)))

    def stop_all(self) -> None:
        """Reverse start order; each gets SIGTERM and `stop_timeout` seconds, then SIGKILL."""
        self.stopping = True
        for child in reversed(self.children):
            child.next_start = None
            proc = child.proc
            if proc is None or proc.poll() is not None:
                continue
            log.info("stopping %s (pid %d)", child.name, proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", child.name, self.stop_timeout)
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
            child.last_exit, child.last_exit_at = proc.returncode, time.time()
            self.write_status()

    # ------------------------------------------------------------------ status

    def write_status(self) -> None:
        status = {"pid": os.getpid(), "started": self.started_at,
                  "state": "stopping" if self.stopping else "running",
                  "marker": " ".join(supervise.python_module("cli.supervisor")),
                  "daemons": [c.status() for c in self.children]}
        text = json.dumps(status, indent=2)
        comparable = json.dumps({**status, "daemons": [{**d, "next_start_in": None} for d in status["daemons"]]})
        if comparable == self._last_status:
            return
        self._last_status = comparable
        path = status_path(self.home)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)

    def run(self) -> None:
        while not self.stopping:
            self.tick()
            self.write_status()
            time.sleep(TICK)
        self.stop_all()
        self.write_status()


def stop_leftovers(home: Path) -> list[str]:
    """Stop, by recorded PID, the daemons an earlier supervisor of this home left running (it was killed before its
    children got their SIGTERM, or they ignored it); the names stopped."""
    try:
        previous = json.loads(status_path(home).read_text())
    except (OSError, ValueError):
        return []
    stopped = []
    for entry in reversed(previous.get("daemons") or []):
        if not entry.get("pid"):
            continue
        daemon = supervise.Daemon(entry["name"], int(entry["pid"]), Path(entry["log"]), entry["marker"])
        if supervise.running(daemon):
            supervise.stop(daemon)
            stopped.append(daemon.name)
    return stopped


def load_children(home: Path) -> list[Child]:
    spec = json.loads(spec_path(home).read_text())
    return [Child(d["name"], list(d["argv"]), Path(d["log"]), d.get("ready_url"), d.get("ready_ca"),
                  dict(d.get("env") or {})) for d in spec["daemons"]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="klite-supervisor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--home", type=Path, required=True, help="the cluster's home (spec and status under run/)")
    p.add_argument("--backoff-initial", type=float, default=1.0, help="seconds before the first restart")
    p.add_argument("--backoff-max", type=float, default=30.0, help="longest wait between restarts")
    p.add_argument("--backoff-reset", type=float, default=60.0,
                   help="a run this long resets the back-off to --backoff-initial")
    p.add_argument("--stop-timeout", type=float, default=10.0, help="seconds after SIGTERM before SIGKILL")
    p.add_argument("--gate-timeout", type=float, default=60.0,
                   help="seconds to wait for a daemon's readiness URL before starting the next")
    p.add_argument("--log-level", default=os.environ.get("KUBELITE_LOG_LEVEL", "info"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    kube_log.setup("supervisor", args.log_level)
    home = args.home.expanduser()
    (home / "run").mkdir(parents=True, exist_ok=True)
    leftovers = stop_leftovers(home)
    if leftovers:
        log.warning("stopped daemons an earlier supervisor left running: %s", ", ".join(leftovers))
    supervisor = Supervisor(home, load_children(home),
                            Backoff(args.backoff_initial, args.backoff_max, args.backoff_reset),
                            args.stop_timeout, args.gate_timeout)

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping every daemon", signum)
        supervisor.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    log.info("supervising %s", ", ".join(c.name for c in supervisor.children))
    supervisor.run()
    log.info("every daemon stopped")
    sys.exit(0)


if __name__ == "__main__":
    main()
