"""ResourceQuota admission alone: what an object costs (kube/quota.py's evaluators: pods with requests, limits,
sidecars and scopes, services by type, claims by storage class, object counts), Kubernetes' refusals (exceeded
quota, failed quota, status unknown), the charge written as a compare-and-swap status update before the object
is admitted, retried from etcd after a conflict, concurrent creates never over the quota, and dry runs charging
nothing. The real registry and two apiservers are covered by tests/e2e/test_admission_policies.py."""

from __future__ import annotations

import asyncio
import copy
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from apiserver.admission.chain import Attributes
from apiserver.admission.resourcequota import RESOURCEQUOTAS, ResourceQuota
from apiserver.params import WriteOptions
from kube import errors, quota
from kube.resources import CONFIGMAPS, PERSISTENTVOLUMECLAIMS, PODS, SERVICES, ResourceType

Obj = dict[str, Any]


@dataclass
class _Page:
    items: list[Obj]


class FakeStorage:
    """Quotas by key, resourceVersions from one counter as etcd's revision."""

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.rv = itertools.count(10)

    @staticmethod
    def key(resource: str, namespace: str | None, name: str) -> str:
        return f"/registry/{resource}/{namespace}/{name}"

    @staticmethod
    def prefix(resource: str, namespace: str | None = None) -> str:
        return f"/registry/{resource}/{namespace}/"

    def put(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(next(self.rv))
        self.objects[self.key("resourcequotas", obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
        return copy.deepcopy(obj)

    async def get(self, key: str) -> Obj | None:
        found = self.objects.get(key)
        return copy.deepcopy(found) if found is not None else None

    async def list(self, prefix: str) -> _Page:
        return _Page([copy.deepcopy(o) for k, o in self.objects.items() if k.startswith(prefix)])


class FakeRegistry:
    """The registry's status update of a quota: compare-and-swap on the body's resourceVersion; committed writes
    are observed by the plugin, as Registry._committed does. `race` runs before a write, as another apiserver."""

    def __init__(self) -> None:
        self.storage = FakeStorage()
        self.plugin: ResourceQuota | None = None
        self.writes: list[Obj] = []
        self.race: list[Any] = []

    async def update(self, rt: ResourceType, namespace: str, name: str, body: Obj, options: WriteOptions,
                     subresource: str | None = None) -> tuple[Obj, list[str]]:
        assert rt is RESOURCEQUOTAS and subresource == "status" and options.field_manager == "kube-apiserver"
        await asyncio.sleep(0)  # let concurrent requests interleave
        if self.race:
            self.race.pop(0)()
        key = self.storage.key("resourcequotas", namespace, name)
        current = self.storage.objects.get(key)
        if current is None:
            raise errors.NotFound.for_object("resourcequotas", name)
        if current["metadata"]["resourceVersion"] != body["metadata"]["resourceVersion"]:
            raise errors.Conflict.stale("resourcequotas", name)
        stored = self.storage.put({**current, "status": body["status"]})
        self.writes.append(stored)
        if self.plugin is not None:
            self.plugin.observe(RESOURCEQUOTAS, stored)
        return stored, []


def make_quota(name: str, hard: dict[str, str], used: dict[str, str] | None = None, scopes: list[str] | None = None,
               computed: bool = True) -> Obj:
    obj: Obj = {"metadata": {"name": name, "namespace": "a"}, "spec": {"hard": hard}, "status": {}}
    if scopes:
        obj["spec"]["scopes"] = scopes
    if computed:
        obj["status"] = {"hard": dict(hard), "used": used if used is not None else dict.fromkeys(hard, "0")}
    return obj


def setup(*quotas: Obj) -> tuple[ResourceQuota, FakeRegistry]:
    registry = FakeRegistry()
    plugin = ResourceQuota()
    plugin._registry = registry  # type: ignore[assignment]
    plugin.index._registry = registry  # type: ignore[assignment]
    registry.plugin = plugin
    for q in quotas:
        plugin.index.observe(registry.storage.put(q))
    return plugin, registry


def stored(registry: FakeRegistry, name: str) -> Obj:
    return registry.storage.objects[registry.storage.key("resourcequotas", "a", name)]


def pod(name: str = "p", requests: Obj | None = None, limits: Obj | None = None, **spec: Any) -> Obj:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    c: Obj = {"name": "app", "image": "busybox", **({"resources": resources} if resources else {})}
    return {"metadata": {"name": name, "namespace": "a"}, "spec": {"containers": [c], **spec}}


def create(obj: Obj, rt: ResourceType = PODS, dry_run: bool = False) -> Attributes:
    return Attributes("CREATE", rt, "a", obj["metadata"]["name"], obj, dry_run=dry_run)


def check(plugin: ResourceQuota, attrs: Attributes) -> None:
    asyncio.run(plugin.validate(attrs))


# ---------------------------------------------------------------------- refusals


def test_over_quota_is_refused_with_kubernetes_message() -> None:
    plugin, registry = setup(make_quota("pods-quota", {"pods": "2"}, {"pods": "2"}))
    with pytest.raises(errors.Forbidden) as refused:
        check(plugin, create(pod("p3")))
    assert refused.value.message == ('pods "p3" is forbidden: exceeded quota: pods-quota, requested: pods=1, '
                                     "used: pods=2, limited: pods=2")
    assert refused.value.code == 403 and refused.value.reason == "Forbidden"
    assert registry.writes == []


def test_only_the_exceeded_resources_are_named() -> None:
    plugin, _ = setup(make_quota("compute", {"pods": "10", "requests.cpu": "1", "requests.memory": "1Gi"},
                                 {"pods": "1", "requests.cpu": "800m", "requests.memory": "0"}))
    with pytest.raises(errors.Forbidden, match=r"exceeded quota: compute, requested: requests.cpu=500m, "
                                               r"used: requests.cpu=800m, limited: requests.cpu=1$"):
        check(plugin, create(pod(requests={"cpu": "500m", "memory": "64Mi"})))


def test_a_pod_without_the_limits_a_quota_tracks_is_refused() -> None:
    plugin, _ = setup(make_quota("limits", {"limits.cpu": "2", "limits.memory": "1Gi"}))
    with pytest.raises(errors.Forbidden) as refused:
        check(plugin, create(pod(limits={"memory": "128Mi"})))
    assert refused.value.message == 'pods "p" is forbidden: failed quota: limits: must specify limits.cpu for: app'


def test_a_quota_not_computed_yet_is_ignored_or_refuses_when_its_usage_is_unknown() -> None:
    plugin, registry = setup(make_quota("fresh", {"pods": "1"}, computed=False))
    check(plugin, create(pod()))  # no status.hard yet: it limits nothing (the controller has not seen it)
    assert registry.writes == []
    half = make_quota("half", {"pods": "1", "services": "1"})
    half["status"]["used"] = {"services": "0"}
    plugin, _ = setup(half)
    with pytest.raises(errors.Forbidden, match=r"status unknown for quota: half, resources: pods$"):
        check(plugin, create(pod()))


# ---------------------------------------------------------------------- charges


def test_the_charge_is_a_status_update_in_kubernetes_quantities() -> None:
    plugin, registry = setup(make_quota("compute", {"pods": "10", "requests.cpu": "2", "requests.memory": "2Gi",
                                                    "limits.memory": "4Gi", "count/pods": "10"}))
    sidecar = {"name": "log", "image": "busybox", "restartPolicy": "Always",
               "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}}
    check(plugin, create(pod(requests={"cpu": "500m", "memory": "128Mi"}, limits={"memory": "256Mi"},
                             initContainers=[sidecar])))
    assert stored(registry, "compute")["status"]["used"] == {
        "pods": "1", "requests.cpu": "600m", "requests.memory": "192Mi", "limits.memory": "320Mi", "count/pods": "1"}
    check(plugin, create(pod("q", requests={"cpu": "1", "memory": "1Gi"}, limits={"memory": "1Gi"})))
    assert stored(registry, "compute")["status"]["used"]["requests.cpu"] == "1600m"
    assert stored(registry, "compute")["status"]["used"]["requests.memory"] == "1216Mi"


def test_a_dry_run_is_checked_and_charges_nothing() -> None:
    plugin, registry = setup(make_quota("pods", {"pods": "1"}))
    check(plugin, create(pod(), dry_run=True))
    assert registry.writes == []
    plugin, registry = setup(make_quota("pods", {"pods": "1"}, {"pods": "1"}))
    with pytest.raises(errors.Forbidden, match="exceeded quota"):
        check(plugin, create(pod(), dry_run=True))


def test_concurrent_creates_never_exceed_the_quota() -> None:
    plugin, registry = setup(make_quota("pods", {"pods": "3"}))

    async def many() -> list[BaseException | None]:
        async def one(i: int) -> None:
            await plugin.validate(create(pod(f"p{i}")))
        return list(await asyncio.gather(*(one(i) for i in range(10)), return_exceptions=True))

    results = asyncio.run(many())
    assert sum(r is None for r in results) == 3
    assert all(isinstance(r, errors.Forbidden) and "exceeded quota: pods" in r.message for r in results if r)
    assert stored(registry, "pods")["status"]["used"] == {"pods": "3"}


def test_a_charge_lost_to_another_apiserver_is_checked_again_from_etcd() -> None:
    def charged_elsewhere(registry: FakeRegistry, used: str) -> None:
        """Another apiserver charges a pod between this one's read and its write."""
        current = stored(registry, "pods")
        registry.storage.put({**current, "status": {**current["status"], "used": {"pods": used}}})

    plugin, registry = setup(make_quota("pods", {"pods": "2"}))
    registry.race.append(lambda: charged_elsewhere(registry, "1"))
    check(plugin, create(pod("mine")))
    assert stored(registry, "pods")["status"]["used"] == {"pods": "2"}  # both charges, none lost

    plugin, registry = setup(make_quota("pods", {"pods": "2"}, {"pods": "1"}))
    registry.race.append(lambda: charged_elsewhere(registry, "2"))  # the last one taken elsewhere
    with pytest.raises(errors.Forbidden, match="used: pods=2, limited: pods=2"):
        check(plugin, create(pod("late")))
    assert stored(registry, "pods")["status"]["used"] == {"pods": "2"}


def test_conflicts_on_every_retry_end_in_the_conflict() -> None:
    plugin, registry = setup(make_quota("pods", {"pods": "100"}))

    def bump() -> None:
        registry.storage.put(stored(registry, "pods"))

    registry.race.extend([bump] * 4)
    with pytest.raises(errors.Conflict):
        check(plugin, create(pod()))


def test_scopes_choose_the_pods_a_quota_counts() -> None:
    plugin, registry = setup(make_quota("best-effort", {"pods": "1"}, scopes=["BestEffort"]),
                             make_quota("long-running", {"pods": "5"}, scopes=["NotTerminating"]))
    check(plugin, create(pod("be")))
    check(plugin, create(pod("burstable", requests={"cpu": "100m"})))
    check(plugin, create(pod("batch", requests={"cpu": "100m"}, activeDeadlineSeconds=60)))
    assert stored(registry, "best-effort")["status"]["used"] == {"pods": "1"}
    assert stored(registry, "long-running")["status"]["used"] == {"pods": "2"}


def test_services_are_charged_their_type_on_create_and_update() -> None:
    plugin, registry = setup(make_quota("svc", {"services": "5", "services.nodeports": "2",
                                                "services.loadbalancers": "0"}))
    cluster_ip = {"metadata": {"name": "web", "namespace": "a", "resourceVersion": "4"},
                  "spec": {"type": "ClusterIP", "ports": [{"port": 80}, {"port": 443}]}}
    check(plugin, create(cluster_ip, SERVICES))
    node_port = {**cluster_ip, "spec": {**cluster_ip["spec"], "type": "NodePort"}}
    check(plugin, Attributes("UPDATE", SERVICES, "a", "web", node_port, cluster_ip))
    assert stored(registry, "svc")["status"]["used"] == {"services": "1", "services.nodeports": "2",
                                                         "services.loadbalancers": "0"}
    lb = {**cluster_ip, "spec": {**cluster_ip["spec"], "type": "LoadBalancer"}}
    with pytest.raises(errors.Forbidden, match=r"requested: services.loadbalancers=1, "
                                               r"used: services.loadbalancers=0, limited: services.loadbalancers=0"):
        check(plugin, Attributes("UPDATE", SERVICES, "a", "web", lb, node_port))


def test_object_counts_and_claims_by_storage_class() -> None:
    plugin, registry = setup(make_quota("objects", {"configmaps": "1", "count/configmaps": "5",
                                                    "requests.storage": "10Gi",
                                                    "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1"}))
    cm = {"metadata": {"name": "c", "namespace": "a"}, "data": {}}
    check(plugin, create(cm, CONFIGMAPS))
    with pytest.raises(errors.Forbidden, match="requested: configmaps=1, used: configmaps=1, limited: configmaps=1"):
        check(plugin, create({**cm, "metadata": {"name": "d", "namespace": "a"}}, CONFIGMAPS))
    claim = {"metadata": {"name": "data", "namespace": "a"},
             "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1.5Gi"}}}}
    check(plugin, create(claim, PERSISTENTVOLUMECLAIMS))
    used = stored(registry, "objects")["status"]["used"]
    assert used["requests.storage"] == "1536Mi" and used["fast.storageclass.storage.k8s.io/persistentvolumeclaims"] \
        == "1" and used["configmaps"] == "1" and used["count/configmaps"] == "1"


def test_left_alone_subresources_deletes_other_namespaces_and_ignored_kinds() -> None:
    plugin, registry = setup(make_quota("pods", {"pods": "0", "count/events": "0"}, {"pods": "0"}))
    p = pod()
    check(plugin, Attributes("UPDATE", PODS, "a", "p", p, p, "status"))
    check(plugin, Attributes("UPDATE", PODS, "a", "p", p, p))  # pods are charged on creation only
    check(plugin, Attributes("DELETE", PODS, "a", "p", None, p))
    check(plugin, Attributes("CREATE", PODS, "b", "p", {**p, "metadata": {"name": "p", "namespace": "b"}}))
    event = {"metadata": {"name": "e", "namespace": "a"}}
    check(plugin, create(event, ResourceType("", "v1", "Event", "events", True)))
    assert registry.writes == []


# ---------------------------------------------------------------------- the shared evaluators


def test_usage_of_what_exists_as_the_controller_computes_it() -> None:
    q = make_quota("all", {"pods": "10", "requests.cpu": "4", "count/pods": "10", "services.nodeports": "5"})
    pods = [pod("a", requests={"cpu": "250m"}), pod("b", requests={"cpu": "1"}),
            {**pod("done", requests={"cpu": "2"}), "status": {"phase": "Succeeded"}}]
    services = [{"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 1}]}}]

    def objects(evaluator: quota.Evaluator) -> list[Obj]:
        return {"pods": pods, "services": services}.get(evaluator.resource, [])

    used = quota.calculate_usage(q, quota.evaluators_for_hard(q["spec"]["hard"]), objects)
    assert quota.to_text(used) == {"pods": "2", "requests.cpu": "1250m", "count/pods": "3",
                                   "services.nodeports": "1"}
    empty = quota.calculate_usage(q, quota.core_evaluators(), lambda e: [])
    assert quota.to_text(empty) == {"pods": "0", "requests.cpu": "0", "count/pods": "0", "services.nodeports": "0"}


@pytest.mark.parametrize(("terms", "expected"), [
    (["0", "128Mi"], "128Mi"), (["128Mi", "64Mi"], "192Mi"), (["500m", "1"], "1500m"), (["1000"], "1k"),
    (["1.5Gi"], "1536Mi"), (["512Ki", "100M"], "100524288"), (["1e3"], "1e3"), (["0.1"], "100m"),
], ids=["zero-takes-format", "binary", "milli", "kilo", "binary-fraction", "mixed", "exponent", "decimal"])
def test_quantities_sum_and_print_as_kubernetes_does(terms: list[str], expected: str) -> None:
    total = quota.Quantity.parse(terms[0])
    for term in terms[1:]:
        total = total + quota.Quantity.parse(term)
    assert str(total) == expected


# ---------------------------------------------------------------------- the index of quotas


def test_the_index_follows_lists_events_and_its_own_writes() -> None:
    registry = FakeRegistry()
    index = ResourceQuota().index
    index._registry = registry  # type: ignore[assignment]
    q = registry.storage.put(make_quota("q", {"pods": "1"}))
    assert [o["metadata"]["name"] for o in asyncio.run(index.in_namespace("a"))] == ["q"]  # from etcd
    del registry.storage.objects[registry.storage.key("resourcequotas", "a", "q")]
    assert asyncio.run(index.in_namespace("a")) != []  # the live answer is kept for a while
    written = {**q, "metadata": {**q["metadata"], "resourceVersion": "50"}}
    index.observe(written)  # this apiserver's own status write
    index.replace(RESOURCEQUOTAS, [q])  # a relist from a watch cache that has not seen it yet
    assert asyncio.run(index.in_namespace("a"))[0]["metadata"]["resourceVersion"] == "50"
    index.apply(RESOURCEQUOTAS, "DELETED", {**q, "metadata": {**q["metadata"], "resourceVersion": "60"}})
    assert asyncio.run(index.in_namespace("a")) == []  # gone, and etcd agrees
