"""Volume binding logic without an apiserver: which Available volume a claim may take (class, capacity,
access modes, volume mode, selector, node affinity), the smallest fit and pre-bound volumes first, the default
StorageClass, and the shape of a provisioned local-path volume."""

from __future__ import annotations

from typing import Any

import pytest

from controllers import volumebinding
from controllers.volumebinding import DEFAULT_CLASS_ANNOTATION, PROVISIONED_BY, PROVISIONER

Obj = dict[str, Any]


def pv(name: str, size: str = "1Gi", cls: str = "manual", modes: tuple[str, ...] = ("ReadWriteOnce",),
       phase: str = "Available", labels: dict[str, str] | None = None, node: str | None = None,
       claim_ref: Obj | None = None) -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                 "hostPath": {"path": f"/tmp/{name}"}, "volumeMode": "Filesystem"}
    if node:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    if claim_ref:
        spec["claimRef"] = claim_ref
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec, "status": {"phase": phase}}


def pvc(size: str = "1Gi", cls: str | None = "manual", modes: tuple[str, ...] = ("ReadWriteOnce",),
        selector: Obj | None = None) -> Obj:
    spec: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if selector:
        spec["selector"] = selector
    return {"metadata": {"name": "data", "namespace": "ns", "uid": "claim-uid", "resourceVersion": "7"},
            "spec": spec}


def node(name: str) -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}


@pytest.mark.parametrize(("volume", "claim", "on_node", "fits"), [
    (pv("a"), pvc(), None, True),
    (pv("a", size="500Mi"), pvc(), None, False),
    (pv("a", size="2Gi"), pvc(), None, True),
    (pv("a", cls="fast"), pvc(), None, False),
    (pv("a", cls=""), pvc(cls=None), None, True),
    (pv("a", modes=("ReadOnlyMany",)), pvc(), None, False),
    (pv("a", modes=("ReadWriteOnce", "ReadOnlyMany")), pvc(modes=("ReadOnlyMany",)), None, True),
    (pv("a", phase="Released"), pvc(), None, False),
    (pv("a", phase="Pending"), pvc(), None, False),
    (pv("a", claim_ref={"name": "other", "namespace": "ns"}), pvc(), None, False),
    (pv("a", labels={"disk": "ssd"}), pvc(selector={"matchLabels": {"disk": "ssd"}}), None, True),
    (pv("a", labels={"disk": "hdd"}), pvc(selector={"matchLabels": {"disk": "ssd"}}), None, False),
    (pv("a", node="n1"), pvc(), node("n1"), True),
    (pv("a", node="n1"), pvc(), node("n2"), False),
    (pv("a"), pvc(), node("n2"), True),
], ids=["same", "too-small", "bigger", "other-class", "no-class-both", "mode-missing", "mode-subset", "released",
        "pending", "claimed", "selector-match", "selector-mismatch", "node-match", "node-mismatch", "no-affinity"])
def test_volume_fits(volume: Obj, claim: Obj, on_node: Obj | None, fits: bool) -> None:
    assert volumebinding.volume_fits(volume, claim, on_node) is fits


def test_best_match_prefers_the_pre_bound_then_the_smallest() -> None:
    volumes = [pv("big", size="10Gi"), pv("small", size="2Gi"), pv("tiny", size="100Mi")]
    assert volumebinding.best_match(volumes, pvc())["metadata"]["name"] == "small"
    prebound = pv("mine", size="5Gi", phase="Pending", claim_ref={"name": "data", "namespace": "ns"})
    assert volumebinding.best_match([*volumes, prebound], pvc())["metadata"]["name"] == "mine"
    # A pre-bound volume pinned elsewhere is no match for this node, and blocks the others.
    pinned = pv("pinned", node="n1", claim_ref={"name": "data", "namespace": "ns", "uid": "claim-uid"})
    assert volumebinding.best_match([*volumes, pinned], pvc(), node("n2")) is None
    assert volumebinding.best_match([pv("x", cls="fast")], pvc()) is None


def test_default_class_is_the_newest_annotated_one() -> None:
    def sc(name: str, created: str, default: bool) -> Obj:
        annotations = {DEFAULT_CLASS_ANNOTATION: "true"} if default else {}
        return {"metadata": {"name": name, "creationTimestamp": created, "annotations": annotations}}

    classes = [sc("old", "2020-01-01T00:00:00Z", True), sc("new", "2021-01-01T00:00:00Z", True),
               sc("plain", "2022-01-01T00:00:00Z", False)]
    assert volumebinding.default_class(classes)["metadata"]["name"] == "new"
    assert volumebinding.default_class(classes[2:]) is None


def test_provisioned_volume_shape() -> None:
    sc = {"metadata": {"name": "local-path"}, "provisioner": PROVISIONER, "reclaimPolicy": "Delete"}
    volume = volumebinding.new_volume(pvc(size="3Gi", cls="local-path"), sc, node("n1"))
    assert volume["metadata"]["name"] == "pvc-claim-uid"
    assert volume["metadata"]["annotations"] == {PROVISIONED_BY: PROVISIONER}
    spec = volume["spec"]
    assert spec["capacity"] == {"storage": "3Gi"} and spec["accessModes"] == ["ReadWriteOnce"]
    assert spec["hostPath"]["path"] == "/var/lib/kubelite/volumes/pvc-claim-uid"
    assert spec["persistentVolumeReclaimPolicy"] == "Delete" and spec["storageClassName"] == "local-path"
    assert spec["claimRef"] == {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "ns",
                                "name": "data", "uid": "claim-uid", "resourceVersion": "7"}
    assert spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["n1"]
    assert "nodeAffinity" not in volumebinding.new_volume(pvc(cls="local-path"), sc, None)["spec"]


def test_claims_of_a_pod() -> None:
    pod = {"metadata": {"namespace": "ns"}, "spec": {"volumes": [
        {"name": "a", "persistentVolumeClaim": {"claimName": "data-web-0"}}, {"name": "b", "emptyDir": {}}]}}
    assert volumebinding.claims_of(pod) == ["ns/data-web-0"]
