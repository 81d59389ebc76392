"""The pods/ephemeralcontainers strategy without storage: what a write through the subresource keeps, and
ValidatePodEphemeralContainersUpdate's rules (added, never changed or removed; no ports, probes, resources or
lifecycle; names unique across every container; a target naming a container of the pod)."""

from __future__ import annotations

import copy

import pytest

from apiserver.registry import strategy_for
from apiserver.registry.pods import EphemeralContainersStrategy
from kube.resources import PODS

pods = strategy_for(PODS)
ephemeral = pods.for_subresource("ephemeralcontainers")


def decode(spec: dict, **meta: object) -> dict:
    obj, _ = pods.decode({"metadata": {"name": "p", "namespace": "default", **meta}, "spec": spec})
    return obj


def stored(**meta: object) -> dict:
    obj = decode({"containers": [{"name": "app", "image": "busybox:latest"}],
                  "initContainers": [{"name": "init", "image": "busybox:latest"}]}, **meta)
    obj["status"] = {"phase": "Running"}
    return obj


def with_ephemeral(pod: dict, *containers: dict) -> dict:
    new = copy.deepcopy(pod)
    new["spec"]["ephemeralContainers"] = [*pod["spec"].get("ephemeralContainers", []), *containers]
    return decode(new["spec"], **new["metadata"])


def update(old: dict, new: dict) -> tuple[dict, list[dict]]:
    new = copy.deepcopy(new)
    ephemeral.prepare_for_update(new, old)
    return new, ephemeral.validate_update(new, old)


DEBUGGER = {"name": "debugger", "image": "busybox:latest", "command": ["ps"], "targetContainerName": "app"}


def test_only_the_subresource_has_its_own_strategy() -> None:
    assert isinstance(ephemeral, EphemeralContainersStrategy)
    assert pods.for_subresource(None) is pods and pods.for_subresource("status") is pods


def test_an_added_container_is_defaulted_like_any_container() -> None:
    added = with_ephemeral(stored(), DEBUGGER)["spec"]["ephemeralContainers"][0]
    assert added["imagePullPolicy"] == "Always"
    assert added["terminationMessagePath"] == "/dev/termination-log"
    assert added["terminationMessagePolicy"] == "File"
    assert added["resources"] == {}
    assert added["targetContainerName"] == "app"


def test_adding_keeps_everything_but_the_ephemeral_containers() -> None:
    old = stored(labels={"app": "web"})
    new = with_ephemeral(old, DEBUGGER)
    new["spec"]["containers"][0]["image"] = "other"
    new["metadata"]["labels"] = None
    new["metadata"]["annotations"] = {"a": "b"}
    new["status"] = {"phase": "Failed"}
    result, causes = update(old, new)
    assert causes == []
    assert result["spec"]["containers"] == old["spec"]["containers"]
    assert [c["name"] for c in result["spec"]["ephemeralContainers"]] == ["debugger"]
    assert result["metadata"]["labels"] == {"app": "web"} and "annotations" not in result["metadata"]
    assert result["status"] == {"phase": "Running"}


def test_existing_ones_may_not_be_removed_or_changed() -> None:
    old = with_ephemeral(stored(), DEBUGGER)
    _, removed = update(old, stored())
    assert removed == [{"reason": "FieldValueForbidden", "field": "spec.ephemeralContainers",
                        "message": 'Forbidden: existing ephemeral containers "debugger" may not be removed\n'}]
    changed = copy.deepcopy(old)
    changed["spec"]["ephemeralContainers"][0]["command"] = ["sh"]
    _, causes = update(old, changed)
    assert [c["field"] for c in causes] == ["spec.ephemeralContainers[debugger]"]
    _, more = update(old, with_ephemeral(old, {**DEBUGGER, "name": "second"}))
    assert more == []


@pytest.mark.parametrize(("extra", "field"), [
    ({"ports": [{"containerPort": 80}]}, "ports"),
    ({"resources": {"limits": {"cpu": "1"}}}, "resources"),
    ({"livenessProbe": {"exec": {"command": ["true"]}}}, "livenessProbe"),
    ({"readinessProbe": {"exec": {"command": ["true"]}}}, "readinessProbe"),
    ({"startupProbe": {"exec": {"command": ["true"]}}}, "startupProbe"),
    ({"lifecycle": {"preStop": {"exec": {"command": ["true"]}}}}, "lifecycle"),
], ids=["ports", "resources", "liveness", "readiness", "startup", "lifecycle"])
def test_fields_an_ephemeral_container_may_not_set(extra: dict, field: str) -> None:
    _, causes = update(stored(), with_ephemeral(stored(), {**DEBUGGER, **extra}))
    assert {"reason": "FieldValueForbidden", "field": f"spec.ephemeralContainers[0].{field}",
            "message": "Forbidden: cannot be set for an Ephemeral Container"} in causes


@pytest.mark.parametrize("name", ["app", "init"])
def test_names_are_unique_across_every_container(name: str) -> None:
    _, causes = update(stored(), with_ephemeral(stored(), {**DEBUGGER, "name": name}))
    assert {"reason": "FieldValueDuplicate", "field": "spec.ephemeralContainers[0].name",
            "message": f'Duplicate value: "{name}"'} in causes
    _, twice = update(stored(), with_ephemeral(stored(), DEBUGGER, DEBUGGER))
    assert [c["field"] for c in twice] == ["spec.ephemeralContainers[1].name"]


def test_the_target_must_be_a_container_of_the_pod() -> None:
    first = with_ephemeral(stored(), DEBUGGER)
    _, causes = update(first, with_ephemeral(first, {**DEBUGGER, "name": "d2", "targetContainerName": "debugger"}))
    assert causes == [{"reason": "FieldValueNotFound", "field": "spec.ephemeralContainers[1].targetContainerName",
                       "message": 'Not found: "debugger"'}]
    assert update(stored(), with_ephemeral(stored(), {**DEBUGGER, "targetContainerName": "init"}))[1] == []


def test_the_container_checks_apply_and_subpaths_are_forbidden() -> None:
    pod = decode({"containers": [{"name": "app", "image": "i"}], "volumes": [{"name": "data", "emptyDir": {}}]})
    bad = {"name": "Bad", "image": "",
           "volumeMounts": [{"name": "data", "mountPath": "/d", "subPath": "x"}, {"name": "nope", "mountPath": "/n"}]}
    _, causes = update(pod, with_ephemeral(pod, bad))
    assert {c["field"] for c in causes} == {
        "spec.ephemeralContainers[0].name", "spec.ephemeralContainers[0].image",
        "spec.ephemeralContainers[0].volumeMounts[0].subPath", "spec.ephemeralContainers[0].volumeMounts[1].name"}


def test_static_pods_have_no_ephemeral_containers() -> None:
    old = stored(annotations={"kubernetes.io/config.mirror": "x"})
    _, causes = update(old, with_ephemeral(old, DEBUGGER))
    assert causes == [{"reason": "FieldValueForbidden", "field": "",
                       "message": "Forbidden: static pods do not support ephemeral containers"}]


def test_not_on_create_nor_through_a_pod_update() -> None:
    pod = with_ephemeral(stored(), DEBUGGER)
    assert {"reason": "FieldValueForbidden", "field": "spec.ephemeralContainers",
            "message": "Forbidden: cannot be set on create"} in pods.validate(pod)
    assert any(c["field"] == "spec" for c in pods.validate_update(pod, stored()))
    assert pods.validate_update(pod, pod) == []  # a pod that has some updates as any other
