"""Pod defaulting and validation (without storage): what the apiserver fills in and refuses."""

from __future__ import annotations

import pytest

from apiserver.registry import strategy_for
from apiserver.registry.pods import qos_class
from kube import errors
from kube.resources import PODS

strategy = strategy_for(PODS)


def decode(spec: dict) -> dict:
    obj, _ = strategy.decode({"metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    return obj


@pytest.mark.parametrize(
    ("image", "policy"),
    [("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.36", "IfNotPresent"),
     ("reg:5000/busybox", "Always"), ("busybox@sha256:abc", "IfNotPresent")],
)
def test_image_pull_policy_default(image: str, policy: str) -> None:
    assert decode({"containers": [{"name": "c", "image": image}]})["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_requests_default_to_limits() -> None:
    obj = decode({"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]})
    assert obj["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1"}


def test_qos_classes() -> None:
    best = decode({"containers": [{"name": "c", "image": "i"}]})
    guaranteed = decode({"containers": [{"name": "c", "image": "i",
                                         "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]})
    burstable = decode({"containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "1"}}}]})
    assert [qos_class(p) for p in (best, guaranteed, burstable)] == ["BestEffort", "Guaranteed", "Burstable"]


def test_validation_collects_every_problem() -> None:
    obj = decode({"containers": [{"name": "Bad", "image": "", "ports": [{"containerPort": 0}],
                                  "volumeMounts": [{"name": "missing", "mountPath": "/x"}]}]})
    fields = {c["field"] for c in strategy.validate(obj)}
    assert {"spec.containers[0].name", "spec.containers[0].image", "spec.containers[0].ports[0].containerPort",
            "spec.containers[0].volumeMounts[0].name"} <= fields


def test_requests_above_limits_are_invalid() -> None:
    obj = decode({"containers": [{"name": "c", "image": "i",
                                  "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]})
    assert any(c["field"] == "spec.containers[0].resources.requests" for c in strategy.validate(obj))


def test_spec_is_immutable_except_images() -> None:
    old = decode({"containers": [{"name": "c", "image": "v1"}]})
    image_only = decode({"containers": [{"name": "c", "image": "v2"}]})
    assert strategy.validate_update(image_only, old) == []
    new_command = decode({"containers": [{"name": "c", "image": "v1", "command": ["sh"]}]})
    assert [c["reason"] for c in strategy.validate_update(new_command, old)] == ["FieldValueForbidden"]


def test_wrong_types_are_refused_as_go_decodes_them() -> None:
    with pytest.raises(errors.BadRequest) as info:
        strategy.decode({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "ports": "80"}]}})
    assert info.value.message.endswith("json: cannot unmarshal string into Go struct field "
                                       "Container.spec.containers.ports of type []v1.ContainerPort")


def test_graceful_deletion_period() -> None:
    pending = decode({"containers": [{"name": "c", "image": "i"}]})
    assert strategy.graceful_delete_seconds(pending, None) == 0  # never scheduled: no kubelet to wait for
    bound = {**pending, "spec": {**pending["spec"], "nodeName": "n"}}
    assert strategy.graceful_delete_seconds(bound, None) == 30
    assert strategy.graceful_delete_seconds(bound, 5) == 5
    done = {**bound, "status": {"phase": "Succeeded"}}
    assert strategy.graceful_delete_seconds(done, None) == 0
