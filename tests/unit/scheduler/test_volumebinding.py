"""VolumeBinding's checks: missing claims, unbound Immediate claims, bound volumes' node affinity (a StatefulSet
pod goes back to its local volume's node), WaitForFirstConsumer with dynamic and static provisioning."""

from __future__ import annotations

from typing import Any

from scheduler.framework import Code, CycleState, Handle
from scheduler.plugins.volumebinding import VolumeBinding
from tests.unit.scheduler.factories import cluster, info, node, pod

Obj = dict[str, Any]


def claim(name: str, volume: str | None = None, storage_class: str = "local-path", size: str = "1Gi") -> Obj:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"storageClassName": storage_class, "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": size}}, **({"volumeName": volume} if volume else {})}}


def volume(name: str, node_name: str | None = None, storage_class: str = "local-path", size: str = "1Gi",
           claimed: bool = True) -> Obj:
    spec: Obj = {"storageClassName": storage_class, "accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}}
    if node_name:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}]}]}}
    if claimed:
        spec["claimRef"] = {"name": "x"}
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": "Bound" if claimed else "Available"}}


CLASSES = {"local-path": {"metadata": {"name": "local-path"}, "provisioner": "kubelite.io/local-path",
                          "volumeBindingMode": "WaitForFirstConsumer"},
           "fast": {"metadata": {"name": "fast"}, "provisioner": "x", "volumeBindingMode": "Immediate"},
           "static": {"metadata": {"name": "static"}, "provisioner": "kubernetes.io/no-provisioner",
                      "volumeBindingMode": "WaitForFirstConsumer"}}


def check(claims: list[Obj], volumes: list[Obj], claim_names: list[str]) -> dict[str, Any]:
    cache = cluster(node("n1"), node("n2"))
    objects = {"persistentvolumeclaims": {f"default/{c['metadata']['name']}": c for c in claims},
               "persistentvolumes": {v["metadata"]["name"]: v for v in volumes},
               "storageclasses": CLASSES}
    plugin = VolumeBinding(None, Handle(cache, lookup=lambda plural, key: objects[plural].get(key),
                                        lister=lambda plural: list(objects[plural].values())))
    p = info(pod("p", volumes=[{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}}
                                for i, c in enumerate(claim_names)]))
    state = CycleState()
    pre = plugin.pre_filter(state, p)
    if pre is not None:
        return {"pre": pre.code.name if pre.code == Code.SKIP else pre.reasons[0]}
    return {n.name: (s.reasons[0] if (s := plugin.filter(state, p, n)) else None) for n in cache.node_list()}


def test_no_claims_skips() -> None:
    assert check([], [], []) == {"pre": "SKIP"}


def test_missing_and_unbound_immediate_claims() -> None:
    assert check([], [], ["data"]) == {"pre": 'persistentvolumeclaim "data" not found'}
    assert check([claim("data", storage_class="fast")], [], ["data"]) == {
        "pre": "pod has unbound immediate PersistentVolumeClaims"}


def test_a_bound_local_volume_pins_the_pod_to_its_node() -> None:
    result = check([claim("data", volume="pv-1")], [volume("pv-1", "n2")], ["data"])
    assert result == {"n1": "node(s) had volume node affinity conflict", "n2": None}


def test_wait_for_first_consumer() -> None:
    assert check([claim("data")], [], ["data"]) == {"n1": None, "n2": None}  # provisioned where the pod goes
    static = [claim("data", storage_class="static", size="5Gi")]
    assert check(static, [volume("small", "n1", "static", "1Gi", claimed=False),
                          volume("big", "n2", "static", "10Gi", claimed=False)], ["data"]) == {
        "n1": "node(s) didn't find available persistent volumes to bind", "n2": None}
