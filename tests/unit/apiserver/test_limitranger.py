"""LimitRanger alone: defaults filled into containers and init containers (and the annotation saying so),
Container and Pod min/max/ratio and PersistentVolumeClaim min/max with Kubernetes' messages, one 403 per
LimitRange with all its violations, and what the plugin leaves alone (pod updates, subresources, deletions)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apiserver.admission.chain import Attributes
from apiserver.admission.limitranger import LIMIT_RANGER_ANNOTATION, LimitRanger, aggregate, validate_pod
from kube import errors
from kube.resources import PERSISTENTVOLUMECLAIMS, PODS

Obj = dict[str, Any]


def limit_range(*items: Obj, name: str = "limits") -> Obj:
    return {"metadata": {"name": name, "namespace": "a", "resourceVersion": "5"}, "spec": {"limits": list(items)}}


def pod(*containers: Obj, init: tuple[Obj, ...] = ()) -> Obj:
    spec: Obj = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": {"name": "p", "namespace": "a"}, "spec": spec}


def container(name: str = "app", requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {"name": name, "image": "busybox", **({"resources": resources} if resources else {})}


def plugin(*ranges: Obj) -> LimitRanger:
    p = LimitRanger()
    for lr in ranges:
        p.index.observe(lr)
    return p


def admit_and_validate(p: LimitRanger, attrs: Attributes) -> None:
    async def run() -> None:
        await p.admit(attrs)
        await p.validate(attrs)
    asyncio.run(run())


def create(obj: Obj, resource: Any = PODS) -> Attributes:
    return Attributes("CREATE", resource, "a", obj["metadata"]["name"], obj)


CONTAINER_DEFAULTS = {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                      "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}


def test_defaults_fill_what_containers_leave_out_and_the_annotation_says_so() -> None:
    p = plugin(limit_range(CONTAINER_DEFAULTS))
    obj = pod(container("app"), container("side", requests={"cpu": "50m"}), init=(container("setup"),))
    admit_and_validate(p, create(obj))
    app, side = obj["spec"]["containers"]
    assert app["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                                "requests": {"cpu": "100m", "memory": "128Mi"}}
    assert side["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}  # its own request kept
    assert obj["spec"]["initContainers"][0]["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}
    assert obj["metadata"]["annotations"][LIMIT_RANGER_ANNOTATION] == (
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app; "
        "memory request for container side; cpu, memory limit for container side; "
        "cpu, memory request for init container setup; cpu, memory limit for init container setup")


def test_no_defaults_no_annotation() -> None:
    obj = pod(container("app", requests={"cpu": "1"}, limits={"cpu": "1"}))
    admit_and_validate(plugin(limit_range({"type": "Container", "max": {"cpu": "2"}})), create(obj))
    assert "annotations" not in obj["metadata"]


@pytest.mark.parametrize(("item", "c", "message"), [
    ({"type": "Container", "max": {"cpu": "500m"}}, container(limits={"cpu": "1"}),
     "maximum cpu usage per Container is 500m, but limit is 1"),
    ({"type": "Container", "max": {"cpu": "500m"}}, container(requests={"cpu": "100m"}),
     "maximum cpu usage per Container is 500m.  No limit is specified"),
    ({"type": "Container", "max": {"memory": "1Gi"}}, container(requests={"memory": "2Gi"}, limits={"memory": "1Gi"}),
     "maximum memory usage per Container is 1Gi, but request is 2Gi"),
    ({"type": "Container", "min": {"cpu": "100m"}}, container(requests={"cpu": "50m"}),
     "minimum cpu usage per Container is 100m, but request is 50m"),
    ({"type": "Container", "min": {"memory": "64Mi"}}, container(),
     "minimum memory usage per Container is 64Mi.  No request is specified"),
    ({"type": "Container", "min": {"cpu": "100m"}}, container(requests={"cpu": "200m"}, limits={"cpu": "50m"}),
     "minimum cpu usage per Container is 100m, but limit is 50m"),
    ({"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}, container(requests={"cpu": "100m"},
                                                                            limits={"cpu": "300m"}),
     "cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000"),
    ({"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}, container(limits={"cpu": "300m"}),
     "cpu max limit to request ratio per Container is 2, but no request is specified or request is 0"),
], ids=["max-limit", "max-no-limit", "max-request", "min-request", "min-no-request", "min-limit", "ratio",
        "ratio-no-request"])
def test_container_bounds_refused_as_kubernetes_words_them(item: Obj, c: Obj, message: str) -> None:
    with pytest.raises(errors.Forbidden) as refused:
        admit_and_validate(plugin(limit_range(item)), create(pod(c)))
    assert refused.value.message == f'pods "p" is forbidden: {message}'
    assert refused.value.code == 403 and refused.value.name == "p" and refused.value.kind == "pods"


def test_defaults_apply_before_the_bounds_are_checked() -> None:
    lr = limit_range({"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "1"},
                      "defaultRequest": {"cpu": "1"}})
    obj = pod(container())
    admit_and_validate(plugin(lr), create(obj))  # the default limit is what max asks for
    assert obj["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "1"}


def test_pod_totals_count_every_container_and_the_init_peak() -> None:
    lr = limit_range({"type": "Pod", "max": {"cpu": "1"}})
    two = pod(container("a", limits={"cpu": "600m"}), container("b", limits={"cpu": "600m"}))
    assert validate_pod(lr, two) == ["maximum cpu usage per Pod is 1, but limit is 1200m"]
    init_heavy = pod(container("a", limits={"cpu": "200m"}), init=(container("i", limits={"cpu": "2"}),))
    assert validate_pod(lr, init_heavy) == ["maximum cpu usage per Pod is 1, but limit is 2"]
    fits = pod(container("a", limits={"cpu": "500m"}), init=(container("i", limits={"cpu": "1"}),))
    assert validate_pod(lr, fits) == []


def test_all_violations_of_one_limit_range_together() -> None:
    lr = limit_range({"type": "Container", "max": {"cpu": "500m", "memory": "1Gi"}})
    obj = pod(container(limits={"cpu": "1", "memory": "2Gi"}))
    with pytest.raises(errors.Forbidden) as refused:
        admit_and_validate(plugin(lr), create(obj))
    assert refused.value.message == ('pods "p" is forbidden: [maximum cpu usage per Container is 500m, but limit is 1, '
                                     "maximum memory usage per Container is 1Gi, but limit is 2Gi]")
    assert aggregate(["x", "x"]) == "x"


def claim(storage: str | None) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"]}
    if storage:
        spec["resources"] = {"requests": {"storage": storage}}
    return {"metadata": {"name": "data", "namespace": "a"}, "spec": spec}


def test_claims_bounded_by_min_and_max_on_create_and_update() -> None:
    p = plugin(limit_range({"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}))
    admit_and_validate(p, create(claim("5Gi"), PERSISTENTVOLUMECLAIMS))
    with pytest.raises(errors.Forbidden, match=r'^persistentvolumeclaims "data" is forbidden: maximum storage usage '
                                               r"per PersistentVolumeClaim is 10Gi, but request is 20Gi$"):
        admit_and_validate(p, create(claim("20Gi"), PERSISTENTVOLUMECLAIMS))
    with pytest.raises(errors.Forbidden, match="minimum storage usage per PersistentVolumeClaim is 1Gi, but request "
                                               "is 500Mi"):
        admit_and_validate(p, Attributes("UPDATE", PERSISTENTVOLUMECLAIMS, "a", "data", claim("500Mi"),
                                         claim("5Gi")))


def test_left_alone_pod_updates_subresources_deletions_and_other_namespaces() -> None:
    p = plugin(limit_range({"type": "Container", "max": {"cpu": "100m"}}))
    big = pod(container(limits={"cpu": "4"}))
    admit_and_validate(p, Attributes("UPDATE", PODS, "a", "p", big, big))
    admit_and_validate(p, Attributes("UPDATE", PODS, "a", "p", big, big, "status"))
    deleting = claim("50Gi")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    admit_and_validate(plugin(limit_range({"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}})),
                       Attributes("UPDATE", PERSISTENTVOLUMECLAIMS, "a", "data", claim("50Gi"), deleting))
    other = LimitRanger()
    other.index.observe({**limit_range({"type": "Container", "max": {"cpu": "100m"}}),
                         "metadata": {"name": "l", "namespace": "b", "resourceVersion": "1"}})
    admit_and_validate(other, create(pod(container(limits={"cpu": "4"}))))
