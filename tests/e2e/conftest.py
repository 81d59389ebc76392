"""Fixtures that start the real thing: an etcd, an apiserver, and (on request) schedulers and kubelets
as separate processes, with a real Docker engine underneath.

Everything runs on 127.0.0.1 with free ports and a temporary directory; processes are stopped by their
PID at teardown. Tests name what they create with a per-run suffix, so leftovers never collide.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import docker
import pytest

from cli import supervise
from kube.client import ApiClient, kubeconfig

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short random suffix for names of nodes, pods and containers made by this test run."""
    return secrets.token_hex(3)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubelite")


@pytest.fixture(scope="session")
def etcd_url(workdir: Path) -> Iterator[str]:
    url, daemon = supervise.start_etcd("etcd", workdir / "etcd", workdir / "logs")
    try:
        yield url
    finally:
        supervise.stop(daemon)


def start_apiserver(etcd: str, logs: Path, name: str = "apiserver",
                    extra: list[str] | None = None) -> tuple[str, supervise.Daemon]:
    port = supervise.free_port()
    daemon = supervise.start(name, [*supervise.python_module("apiserver"), "--insecure", "--etcd-servers", etcd,
                                    "--port", str(port), "--bookmark-interval", "2", *(extra or [])], logs)
    url = f"http://127.0.0.1:{port}"
    supervise.wait_http(f"{url}/readyz", 30, daemon)
    return url, daemon


@pytest.fixture(scope="session")
def apiserver_url(etcd_url: str, workdir: Path) -> Iterator[str]:
    url, daemon = start_apiserver(etcd_url, workdir / "logs")
    try:
        yield url
    finally:
        supervise.stop(daemon)


@pytest.fixture(scope="session", name="kubeconfig")
def kubeconfig_path(apiserver_url: str, workdir: Path) -> Path:
    """A kubeconfig file whose current context points at the test apiserver."""
    return kubeconfig.merge_context("kubelite-test", apiserver_url, path=workdir / "kubeconfig")


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = docker.from_env(timeout=60)
    client.ping()  # e2e tests need a real engine: fail loudly, never skip
    return client


@pytest.fixture
async def api(apiserver_url: str) -> AsyncIterator[ApiClient]:
    client = ApiClient(apiserver_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def daemons(workdir: Path, apiserver_url: str) -> Iterator[Callable[..., supervise.Daemon]]:
    """Start daemons (`daemons("kubelet", "--node-name", "n1")`); all stopped at the end of the test."""
    started: list[supervise.Daemon] = []

    def start(module: str, *args: str, name: str | None = None) -> supervise.Daemon:
        label = name or f"{module}-{len(started)}"
        daemon = supervise.start(label, [*supervise.python_module(module), "--apiserver", apiserver_url, *args],
                                 workdir / "logs")
        started.append(daemon)
        return daemon

    yield start
    for daemon in reversed(started):
        supervise.stop(daemon)
