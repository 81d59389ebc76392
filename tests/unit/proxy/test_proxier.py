"""The proxy's control loop without a cluster: one sync builds every service port for the backend, and a
Service the backend cannot program gets one Warning Event per distinct problem (again if it comes back)."""

from __future__ import annotations

from typing import Any

from proxy.model import Problem, ServicePort
from proxy.proxier import Proxier

Obj = dict[str, Any]


class FakeClient:
    def __init__(self) -> None:
        self.created: list[Obj] = []

    async def create(self, rt: Any, obj: Obj, namespace: str | None = None) -> Obj:
        self.created.append(obj)
        return obj


class FakeBackend:
    mode = "fake"
    rule_count = 0

    def __init__(self) -> None:
        self.synced: list[list[ServicePort]] = []
        self.problems: list[Problem] = []

    async def check(self) -> None: ...

    async def sync(self, ports: list[ServicePort]) -> list[Problem]:
        self.synced.append(ports)
        return list(self.problems)

    async def close(self) -> None: ...

    async def cleanup(self) -> None: ...


def service(name: str) -> Obj:
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}", "resourceVersion": "1"},
            "spec": {"clusterIP": "10.96.0.9", "ports": [{"port": 80, "protocol": "TCP"}]}}


async def test_sync_programs_every_port_and_reports_problems_once() -> None:
    client, backend = FakeClient(), FakeBackend()
    proxier = Proxier(client, backend, "n1")  # type: ignore[arg-type]
    proxier.services._put("ns/web", service("web"))
    proxier.endpoints._put("ns/web", {"metadata": {"name": "web", "namespace": "ns", "resourceVersion": "1"},
                                      "subsets": [{"addresses": [{"ip": "172.17.0.2"}],
                                                   "ports": [{"port": 8080, "protocol": "TCP"}]}]})
    await proxier.sync_once()
    assert [str(e) for e in backend.synced[0][0].endpoints] == ["172.17.0.2:8080"]
    assert proxier.synced.is_set() and proxier.stats["syncs"] == 1

    backend.problems = [Problem("ns", "web", "FailedToProgram", "port ns/web: cannot listen")]
    await proxier.sync_once()
    await proxier.sync_once()
    assert [e["reason"] for e in client.created] == ["FailedToProgram"]  # once, not per sync
    assert client.created[0]["involvedObject"]["uid"] == "u-web" and client.created[0]["type"] == "Warning"

    backend.problems = []
    await proxier.sync_once()
    backend.problems = [Problem("ns", "web", "FailedToProgram", "port ns/web: cannot listen")]
    await proxier.sync_once()
    assert len(client.created) == 2  # it cleared, then came back: told again
