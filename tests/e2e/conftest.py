"""Fixtures that start the real thing: an etcd, an apiserver, and (on request) schedulers and kubelets
as separate processes, with a real Docker engine underneath.

Everything runs on 127.0.0.1 with free ports and a temporary directory; processes are stopped by their
PID at teardown. Tests name what they create with a per-run suffix, so leftovers never collide.

The cluster is secured as users run it (tests/support/secured.py): the session has its own CA, the apiserver
serves TLS and authenticates client certificates, every daemon runs with a kubeconfig of its own Kubernetes
identity, and the tests are the admin (`kubeconfig`, `admin`, `api`, `http`, `async_http`). A module that needs
a cluster of its own overrides `apiserver` (module-scoped); the fixtures above follow it.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import docker
import httpx
import pytest

from cli import supervise
from kube.client import ApiClient, kubeconfig
from tests.support import secured
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short random suffix for names of nodes, pods and containers made by this test run."""
    return secrets.token_hex(3)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubelite")


@pytest.fixture(scope="session")
def pki(workdir: Path) -> TestPKI:
    """The session's cluster CA, serving certificate and client credentials."""
    return TestPKI(workdir / "pki-home")


@pytest.fixture(scope="session")
def etcd_url(workdir: Path) -> Iterator[str]:
    url, daemon = supervise.start_etcd("etcd", workdir / "etcd", workdir / "logs")
    try:
        yield url
    finally:
        supervise.stop(daemon)


def start_apiserver(pki: TestPKI, etcd: str, logs: Path, name: str = "apiserver", extra: Sequence[str] = (),
                    port: int | None = None) -> Apiserver:
    """A secured apiserver with the suite's short bookmark interval."""
    return secured.start_apiserver(pki, etcd, logs, name, ["--bookmark-interval", "2", *extra], port=port)


@pytest.fixture(scope="session")
def apiserver(pki: TestPKI, etcd_url: str, workdir: Path) -> Iterator[Apiserver]:
    server = start_apiserver(pki, etcd_url, workdir / "logs")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def apiserver_url(apiserver: Apiserver) -> str:
    """The apiserver's https URL (credentials come from `admin`, `http`, `api` or `kubeconfig`)."""
    return apiserver.url


@pytest.fixture(scope="module")
def admin(apiserver: Apiserver) -> kubeconfig.ClusterCredentials:
    """The admin's server, CA and client certificate (for cli.supervise's helpers)."""
    return apiserver.credentials()


@pytest.fixture(scope="module", name="kubeconfig")
def kubeconfig_path(apiserver: Apiserver) -> Path:
    """The admin's kubeconfig for the test apiserver, CA and client certificate embedded as kubeadm writes it."""
    return apiserver.kubeconfig(embed=True)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = docker.from_env(timeout=60)
    client.ping()  # e2e tests need a real engine: fail loudly, never skip
    return client


@pytest.fixture
async def api(apiserver: Apiserver) -> AsyncIterator[ApiClient]:
    client = apiserver.api()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def http(apiserver: Apiserver) -> Iterator[httpx.Client]:
    """Raw requests to the apiserver as the admin (paths relative to it)."""
    with apiserver.http() as client:
        yield client


@pytest.fixture
async def async_http(apiserver: Apiserver) -> AsyncIterator[httpx.AsyncClient]:
    async with apiserver.async_http() as client:
        yield client


@pytest.fixture
def daemons(workdir: Path, apiserver: Apiserver) -> Iterator[Callable[..., supervise.Daemon]]:
    """Start daemons (`daemons("kubelet", "--node-name", "n1")`), each with the kubeconfig of its own identity,
    against the test's apiserver unless `apiserver=` names another; all stopped at the end of the test."""
    started: list[supervise.Daemon] = []

    def start(module: str, *args: str, name: str | None = None, apiserver: Apiserver = apiserver) -> supervise.Daemon:
        label = name or f"{module}-{len(started)}"
        daemon = supervise.start(label, apiserver.daemon_argv(module, *args), workdir / "logs")
        started.append(daemon)
        return daemon

    yield start
    for daemon in reversed(started):
        supervise.stop(daemon)
