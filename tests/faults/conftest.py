"""The fault suite's cluster: a real `klite up` (supervisor, etcd, apiserver, scheduler, controller-manager, kubelet,
proxy, DNS) on private ports and a private home, with a short restart back-off; `klite down` at the end, checked to
leave no process and no container behind.

Bounded by knobs: `pytest tests/faults` is CI's variant (a 20 s etcd outage, every daemon killed once during a
rolling update of 3 replicas); `--faults-full` (or KUBELITE_FAULTS=full; `make faults`) rolls 10 replicas and kills
every daemon in 3 rounds. KUBELITE_FAULTS_SEED fixes the random kill moments (the seed is printed);
KUBELITE_FAULTS_BACKOFF sets the supervisor's first restart delay (0.5 s; a large one shows the suite failing
when nothing restarts what exits).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from cli import supervise
from kube.client import kubeconfig

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NODE_LABEL = "io.kubelite.node.name"


@dataclass(frozen=True)
class Bounds:
    outage_seconds: float
    replicas: int
    rounds: int
    seed: int


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--faults-full", action="store_true", default=False,
                     help="the long fault run: 10 replicas, every daemon killed in 3 rounds")


@pytest.fixture(scope="session")
def bounds(request: pytest.FixtureRequest) -> Bounds:
    full = bool(request.config.getoption("--faults-full", default=False)) or os.environ.get("KUBELITE_FAULTS") == "full"
    seed = int(os.environ.get("KUBELITE_FAULTS_SEED") or secrets.randbelow(1_000_000))
    print(f"\nfault suite: {'full' if full else 'CI'} variant, KUBELITE_FAULTS_SEED={seed}")
    return Bounds(outage_seconds=float(os.environ.get("KUBELITE_FAULTS_OUTAGE", "20")),
                  replicas=10 if full else 3, rounds=3 if full else 1, seed=seed)


@pytest.fixture(scope="session")
def run_id() -> str:
    return secrets.token_hex(3)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = docker.from_env(timeout=60)
    client.ping()  # a real engine or a loud failure, never a skip
    return client


@dataclass
class Cluster:
    """A running `klite up` cluster and ways to look at it as a user and as its operator."""

    home: Path
    env: dict[str, str]
    node: str
    access: kubeconfig.ClusterCredentials

    def klite(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["/usr/bin/kubectl", *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def http(self, timeout: float = 5.0) -> httpx.Client:
        return supervise.http_client(self.access, timeout)

    def daemons(self) -> dict[str, dict[str, Any]]:
        """The supervisor's record: {name: {pid, restarts, last_exit, state, ...}}."""
        status = json.loads((self.home / "run" / "supervisor.json").read_text())
        return {d["name"]: d for d in status["daemons"]}

    def spec(self) -> dict[str, dict[str, Any]]:
        return {d["name"]: d for d in json.loads((self.home / "run" / "supervisor-spec.json").read_text())["daemons"]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, run_id: str,
            docker_client: docker.DockerClient) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("faults")
    home, config = base / "home", base / "kubeconfig"
    node = f"faults-{run_id}"
    env = {**os.environ, "KUBECONFIG": str(config)}
    port, etcd_port = supervise.free_port(), supervise.free_port()
    backoff = os.environ.get("KUBELITE_FAULTS_BACKOFF", "0.5")
    up = subprocess.run([sys.executable, "-m", "cli", "up", "--home", str(home), "--port", str(port),
                         "--etcd-port", str(etcd_port), "--node-name", node, "--backoff-initial", backoff,
                         "--backoff-max", max(backoff, "4", key=float)],
                        cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    access = kubeconfig.load(home / "kubeconfigs" / "admin.conf") if up.returncode == 0 else None
    try:
        assert up.returncode == 0, f"klite up failed:\n{up.stdout}\n{up.stderr}"
        assert access is not None
        yield Cluster(home, env, node, access)
    finally:
        recorded = json.loads((home / "run" / "supervisor.json").read_text()) \
            if (home / "run" / "supervisor.json").exists() else {"daemons": []}
        down = subprocess.run([sys.executable, "-m", "cli", "down", "--home", str(home)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=240)
    assert down.returncode == 0, down.stderr
    for d in recorded["daemons"]:
        if d.get("pid"):
            daemon = supervise.Daemon(d["name"], d["pid"], Path(d["log"]), d["marker"])
            assert not supervise.running(daemon), f"{d['name']} still runs after klite down"
    assert docker_client.containers.list(all=True, filters={"label": f"{NODE_LABEL}={node}"}) == []
