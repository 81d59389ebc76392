"""ClusterIP and NodePort allocation: ranges and bands, idempotence per owner, collisions between writers,
release by owner only, the Service hooks (explicit, dynamic, shared node ports, type changes) and repair.

Storage is an in-memory stand-in with etcd's create-if-absent and compare-and-delete semantics; the real
etcd path (several apiservers over one etcd) is covered in tests/e2e/test_services.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from apiserver import allocators
from apiserver.allocators import AllocationError, Allocator, Owner, parse_port_range, parse_service_cidr
from apiserver.registry import services, strategy_for
from apiserver.storage import EtcdStorage, ListPage
from kube import errors
from kube.resources import SERVICES

Obj = dict[str, Any]


class MemoryStorage:
    """The slice of EtcdStorage the allocators use."""

    key = staticmethod(EtcdStorage.key)
    prefix = staticmethod(EtcdStorage.prefix)

    def __init__(self) -> None:
        self.data: dict[str, tuple[str, int]] = {}
        self.revision = 0

    async def create(self, key: str, obj: Obj) -> Obj:
        await asyncio.sleep(0)  # a real round trip yields: lets concurrent writers interleave
        if key in self.data:
            raise errors.AlreadyExists(f"{key} already exists")
        self.revision += 1
        self.data[key] = (json.dumps(obj), self.revision)
        return obj

    async def get(self, key: str) -> Obj | None:
        if key not in self.data:
            return None
        raw, rev = self.data[key]
        obj = json.loads(raw)
        obj["metadata"]["resourceVersion"] = str(rev)
        return obj

    async def delete(self, key: str, expected_revision: int) -> int:
        if key not in self.data or self.data[key][1] != expected_revision:
            raise errors.Conflict("stale resourceVersion")
        del self.data[key]
        self.revision += 1
        return self.revision

    async def list(self, prefix: str, *, revision: int | None = None, limit: int = 0,
                   start: bytes | None = None) -> ListPage:
        keys = sorted(k for k in self.data if k.startswith(prefix) and (start is None or k.encode() >= start))
        page = keys[:limit] if limit else keys
        items = [await self.get(k) for k in page]
        more = limit and len(keys) > limit
        return ListPage([i for i in items if i], self.revision, (page[-1].encode() + b"\0") if more else None)


OWNER = Owner("default", "web", "uid-1")
OTHER = Owner("default", "api", "uid-2")


def test_ip_range_excludes_network_and_broadcast() -> None:
    rng = parse_service_cidr("10.96.0.0/24")
    assert (rng.size, rng.value(0), rng.value(rng.size - 1)) == (254, "10.96.0.1", "10.96.0.254")
    assert not rng.contains("10.96.0.0") and not rng.contains("10.96.0.255") and rng.contains("10.96.0.10")
    assert not rng.contains("10.97.0.1") and not rng.contains("junk")


@pytest.mark.parametrize(("text", "first", "size"), [("30000-32767", 30000, 2768), ("31000+100", 31000, 100)],
                         ids=["low-high", "base+size"])
def test_port_range_parsing(text: str, first: int, size: int) -> None:
    rng = parse_port_range(text)
    assert (rng.first, rng.size) == (first, size)


@pytest.mark.parametrize("text", ["30000", "a-b", "0-10", "65000-70000"])
def test_bad_port_range_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="service-node-port-range"):
        parse_port_range(text)


def test_static_bands_follow_the_keps() -> None:
    assert parse_service_cidr("10.96.0.0/16").static_band() == 256
    assert parse_service_cidr("10.96.0.0/28").static_band() == 16
    assert parse_port_range("30000-32767").static_band() == 86


async def test_dynamic_picks_leave_the_static_band_free() -> None:
    alloc = Allocator(MemoryStorage(), "ipaddresses", parse_service_cidr("10.96.0.0/24"))
    picked = {await alloc.allocate_next(Owner("ns", f"s{i}", f"u{i}")) for i in range(50)}
    assert len(picked) == 50
    assert all(alloc.range.offset(ip) >= 16 for ip in picked)  # .1 - .16 stay for explicit choices


async def test_full_range_falls_back_to_the_band_then_reports_full() -> None:
    alloc = Allocator(MemoryStorage(), "servicenodeports", parse_port_range("31000-31019"))
    picked = [await alloc.allocate_next(Owner("ns", f"s{i}", f"u{i}")) for i in range(20)]
    assert sorted(picked) == list(range(31000, 31020))
    with pytest.raises(AllocationError, match="range is full"):
        await alloc.allocate_next(OWNER)


async def test_explicit_allocation_is_idempotent_per_owner_and_refused_to_others() -> None:
    alloc = Allocator(MemoryStorage(), "ipaddresses", parse_service_cidr("10.96.0.0/24"))
    await alloc.allocate("10.96.0.10", OWNER)
    await alloc.allocate("10.96.0.10", OWNER)  # a retried write by the same Service
    with pytest.raises(AllocationError, match="provided IP is already allocated"):
        await alloc.allocate("10.96.0.10", OTHER)
    with pytest.raises(AllocationError, match=r"not in the valid range. The range of valid IPs is 10.96.0.0/24"):
        await alloc.allocate("10.97.0.10", OWNER)


async def test_concurrent_writers_never_share_a_value() -> None:
    alloc = Allocator(MemoryStorage(), "servicenodeports", parse_port_range("31000-31039"))
    got = await asyncio.gather(*(alloc.allocate_next(Owner("ns", f"s{i}", f"u{i}")) for i in range(40)))
    assert len(set(got)) == 40


async def test_only_the_owner_releases() -> None:
    alloc = Allocator(MemoryStorage(), "ipaddresses", parse_service_cidr("10.96.0.0/24"))
    await alloc.allocate("10.96.0.20", OWNER)
    assert not await alloc.release("10.96.0.20", OTHER.uid)
    assert await alloc.release("10.96.0.20", OWNER.uid)
    await alloc.allocate("10.96.0.20", OTHER)  # free again


# ---------------------------------------------------------------- the Service hooks

strategy = strategy_for(SERVICES)


def service(name: str, uid: str, **spec: Any) -> Obj:
    obj, _ = strategy.decode({"metadata": {"name": name, "namespace": "default", "uid": uid},
                              "spec": {"ports": [{"port": 80}], **spec}})
    return obj


@pytest.fixture(autouse=True)
def small_ranges() -> Any:
    saved = (services.ServiceStrategy.ip_range, services.ServiceStrategy.node_port_range)
    services.configure("10.96.0.0/24", "31000-31099")
    yield
    services.ServiceStrategy.ip_range, services.ServiceStrategy.node_port_range = saved


async def test_create_allocates_an_ip_and_node_ports_sharing_one_per_port_number() -> None:
    storage = MemoryStorage()
    obj = service("dns", "u1", type="NodePort", ports=[
        {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "http", "port": 80, "nodePort": 31050}])
    await strategy.before_create(obj, storage)
    ip = obj["spec"]["clusterIP"]
    assert obj["spec"]["clusterIPs"] == [ip] and strategy.ip_range.contains(ip)
    node_ports = [p["nodePort"] for p in obj["spec"]["ports"]]
    assert node_ports[0] == node_ports[1] != 31050 and node_ports[2] == 31050
    assert sorted(storage.data) == sorted([f"/registry/ipaddresses/{ip}", f"/registry/servicenodeports/{node_ports[0]}",
                                           "/registry/servicenodeports/31050"])


async def test_headless_and_external_name_allocate_nothing() -> None:
    storage = MemoryStorage()
    await strategy.before_create(service("h", "u1", clusterIP="None"), storage)
    await strategy.before_create(service("e", "u2", type="ExternalName", externalName="example.org", ports=[]),
                                 storage)
    assert storage.data == {}


async def test_taken_values_give_422_with_kubernetes_wording_and_free_what_was_taken() -> None:
    storage = MemoryStorage()
    await strategy.before_create(service("a", "u1", clusterIP="10.96.0.10", type="NodePort",
                                         ports=[{"port": 80, "nodePort": 31080}]), storage)
    before = dict(storage.data)
    with pytest.raises(errors.Invalid) as caught:
        await strategy.before_create(service("b", "u2", clusterIP="10.96.0.10"), storage)
    assert 'spec.clusterIPs: Invalid value: "10.96.0.10": failed to allocate IP 10.96.0.10: provided IP is ' \
           'already allocated' in str(caught.value)
    with pytest.raises(errors.Invalid) as caught:
        await strategy.before_create(service("c", "u3", type="NodePort", ports=[{"port": 80, "nodePort": 31080}]),
                                     storage)
    assert "spec.ports[0].nodePort: Invalid value: 31080: provided port is already allocated" in str(caught.value)
    assert storage.data == before  # c's dynamic ClusterIP was given back


async def test_type_changes_allocate_and_release() -> None:
    storage = MemoryStorage()
    old = service("web", "u1")
    await strategy.before_create(old, storage)
    new = json.loads(json.dumps(old))
    new["spec"]["type"] = "NodePort"
    strategy.prepare_for_update(new, old)
    await strategy.before_update(new, old, storage)
    node_port = new["spec"]["ports"][0]["nodePort"]
    assert f"/registry/servicenodeports/{node_port}" in storage.data
    back = json.loads(json.dumps(new))
    back["spec"]["type"] = "ClusterIP"
    strategy.prepare_for_update(back, new)
    assert "nodePort" not in back["spec"]["ports"][0] and "externalTrafficPolicy" not in back["spec"]
    await strategy.before_update(back, new, storage)
    await strategy.after_update(back, new, storage)
    assert f"/registry/servicenodeports/{node_port}" not in storage.data
    await strategy.after_delete(back, storage)
    assert storage.data == {}


async def test_update_without_the_allocated_values_keeps_them() -> None:
    storage = MemoryStorage()
    old = service("web", "u1", type="NodePort")
    await strategy.before_create(old, storage)
    new = service("web", "u1", type="NodePort")
    strategy.prepare_for_update(new, old)
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    assert new["spec"]["ports"][0]["nodePort"] == old["spec"]["ports"][0]["nodePort"]
    assert strategy.validate_update(new, old) == []


async def test_repair_frees_leaks_and_records_missing_values() -> None:
    storage = MemoryStorage()
    stored = service("web", "u1", clusterIP="10.96.0.30")
    await storage.create("/registry/services/default/web", stored)  # stored without a record (e.g. a restore)
    ips = Allocator(storage, "ipaddresses", strategy.ip_range)
    await ips.allocate("10.96.0.31", Owner("default", "gone", "u-gone"))  # its Service never got stored
    released, recorded = await services.repair(storage, min_age=0)
    assert (released, recorded) == (1, 1)
    assert sorted(storage.data) == ["/registry/ipaddresses/10.96.0.30", "/registry/services/default/web"]


def test_module_exports() -> None:
    assert set(allocators.__all__) == {"DEFAULT_NODE_PORT_RANGE", "DEFAULT_SERVICE_CIDR", "AllocationError",
                                       "Allocator", "IPRange", "Owner", "PortRange", "parse_port_range",
                                       "parse_service_cidr"}
