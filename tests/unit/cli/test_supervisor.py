"""cli/supervisor.py with real child processes (sh, sleep): the back-off's shape, restarts counted after an exit,
start order gated on readiness, SIGTERM stopping every child, and children that never outlive a killed supervisor
nor get doubled by the next one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import supervise, supervisor

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("failures", "delay"), [(0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (20, 30.0)])
def test_backoff_doubles_up_to_its_maximum(failures: int, delay: float) -> None:
    assert supervisor.Backoff(1.0, 30.0).delay(failures) == delay


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _status(home: Path) -> dict[str, Any]:
    try:
        return json.loads(supervisor.status_path(home).read_text())
    except (OSError, ValueError):
        return {"daemons": []}


def _daemons(home: Path) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in _status(home)["daemons"]}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "run").mkdir()
    marker = tmp_path / "second-may-start"
    daemons = [
        {"name": "steady", "argv": ["sleep", "300"], "log": str(tmp_path / "steady.log")},
        {"name": "crasher", "argv": ["sh", "-c", f"test -e {marker} || exit 3; exec sleep 300"],
         "log": str(tmp_path / "crasher.log")},
    ]
    supervisor.spec_path(tmp_path).write_text(json.dumps({"daemons": daemons}))
    return tmp_path


@pytest.fixture
def boss(home: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", "cli.supervisor", "--home", str(home), "--backoff-initial", "0.2",
                             "--backoff-max", "0.4", "--stop-timeout", "2"], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(home / "supervisor.log", "wb"))  # noqa: SIM115
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for daemon in _daemons(home).values():  # pdeathsig already did this; by PID in case it did not
            if daemon.get("pid") and _alive(daemon["pid"]):
                os.kill(daemon["pid"], signal.SIGKILL)


def test_restarts_with_backoff_and_stops_everything_on_sigterm(home: Path, boss: subprocess.Popen[bytes]) -> None:
    _wait(lambda: _daemons(home).get("crasher", {}).get("restarts", 0) >= 2, 10, "the crasher to be restarted")
    crasher = _daemons(home)["crasher"]
    assert crasher["last_exit"] == 3
    steady = _daemons(home)["steady"]
    assert steady["restarts"] == 0 and _alive(steady["pid"])
    (home / "second-may-start").touch()
    _wait(lambda: _daemons(home)["crasher"]["state"] == "running" and _daemons(home)["crasher"]["pid"] is not None
          and _alive(_daemons(home)["crasher"]["pid"]), 10, "the crasher to stay up")
    pids = [d["pid"] for d in _daemons(home).values()]
    assert (home / "run" / "steady.pid").read_text() == str(steady["pid"])

    boss.send_signal(signal.SIGTERM)
    assert boss.wait(15) == 0
    assert not any(_alive(pid) for pid in pids)
    assert all(d["pid"] is None for d in _daemons(home).values())


def test_children_die_with_a_killed_supervisor_and_the_next_one_doubles_nothing(
        home: Path, boss: subprocess.Popen[bytes]) -> None:
    (home / "second-may-start").touch()
    _wait(lambda: all(d.get("pid") for d in _daemons(home).values()) and len(_daemons(home)) == 2, 10, "both up")
    pids = [d["pid"] for d in _daemons(home).values()]
    boss.kill()
    boss.wait(10)
    _wait(lambda: not any(_alive(pid) for pid in pids), 10, "the children to get their SIGTERM (PR_SET_PDEATHSIG)")

    # A child that outlived its supervisor (here: one started by hand and recorded as such) is stopped, by PID,
    # before the next supervisor starts its own.
    stray = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        status = _status(home)
        status["daemons"][0].update(pid=stray.pid, marker="sleep 300")
        supervisor.status_path(home).write_text(json.dumps(status))
        assert supervisor.stop_leftovers(home) == ["steady"]
        # stopping reaps the child itself (supervise.running waits for zombies), so Popen may only see it gone
        assert stray.wait(10) in (-signal.SIGTERM, 0)
        assert not Path(f"/proc/{stray.pid}").exists()
    finally:
        if stray.poll() is None:
            stray.kill()
    assert supervise.running(supervise.Daemon("x", stray.pid, home / "x", "sleep")) is False
