"""Bodies of the wrong types refused in the words of Kubernetes' Go decoders (apiserver.registry.godecode): the
patch forms (422 on `patch`: the patched JSON and encoding/json's error for JSON and merge patches, the patch map as
Go prints it and the unstructured converter's error for strategic merge patches), Go's type names, and time.Parse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apiserver.registry import godecode, strategy_for
from kube.models.apps import Deployment
from kube.models.core import Pod
from kube.resources import DEPLOYMENTS

META = {"name": "x", "namespace": "default"}


def refusal(body: dict[str, Any]) -> godecode.DecodeError:
    with pytest.raises(godecode.DecodeError) as info:
        strategy_for(DEPLOYMENTS).decode({"metadata": META, **body})
    return info.value


def test_a_json_or_merge_patch_result_that_does_not_decode_is_invalid_on_patch() -> None:
    patched = {"metadata": META, "spec": {"replicas": "3"}}
    invalid = refusal(patched).in_patch({"spec": {"replicas": "3"}}, patched, strategic=False)
    assert invalid.code == 422 and invalid.reason == "Invalid"
    shown = json.dumps(json.dumps(patched, separators=(",", ":"), sort_keys=True))
    detail = ("json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32")
    assert invalid.causes == [{"reason": "FieldValueInvalid", "field": "patch",
                               "message": f"Invalid value: {shown}: {detail}"}]
    assert invalid.message == f' "" is invalid: patch: Invalid value: {shown}: {detail}'
    assert invalid.to_status()["details"] == {"causes": invalid.causes}


@pytest.mark.parametrize(("spec", "detail"), [
    ({"replicas": "3"}, "unrecognized type: int32"),
    ({"replicas": True}, "unrecognized type: int32"),
    ({"replicas": 1.5}, "cannot convert float64 to int32"),
    ({"template": "x"}, "cannot restore struct from: string"),
    ({"template": {"spec": {"containers": {"a": 1}}}}, "cannot restore slice from map"),
    ({"selector": {"matchLabels": "a"}}, "cannot restore map from string"),
    ({"template": {"spec": {"containers": [{"name": 5}]}}}, "cannot convert int64 to string"),
    ({"template": {"spec": {"containers": [{"name": True}]}}}, "unrecognized type: string"),
], ids=["string", "bool", "fraction", "struct", "slice", "map", "int-to-string", "bool-to-string"])
def test_a_strategic_patch_gets_the_unstructured_converters_words(spec: dict[str, Any], detail: str) -> None:
    patch = {"spec": spec}
    invalid = refusal({"spec": spec}).in_patch(patch, {"spec": spec}, strategic=True)
    assert invalid.causes[0]["message"] == f"Invalid value: {json.dumps(godecode._go_print(patch))}: {detail}"


def test_go_prints_a_patch_map_sorted() -> None:
    assert godecode._go_print({"spec": {"replicas": 3, "a": [1, "x", None, True, 2.5, 1e6]}}) == (
        "map[spec:map[a:[1 x <nil> true 2.5 1e+06] replicas:3]]")


@pytest.mark.parametrize(("model", "loc", "expected"), [
    (Deployment, ("spec", "replicas"), ("DeploymentSpec", ["spec", "replicas"], "int32")),
    (Deployment, ("spec",), ("Deployment", ["spec"], "v1.DeploymentSpec")),
    (Pod, ("spec", "containers"), ("PodSpec", ["spec", "containers"], "[]v1.Container")),
    (Pod, ("spec", "containers", 0, "env", 1, "value"), ("EnvVar", ["spec", "containers", "env", "value"], "string")),
    (Pod, ("metadata", "labels", "a"), ("ObjectMeta", ["metadata", "labels"], "string")),
    (Pod, ("metadata", "labels"), ("ObjectMeta", ["metadata", "labels"], "map[string]string")),
    (Pod, ("spec", "terminationGracePeriodSeconds"), ("PodSpec", ["spec", "terminationGracePeriodSeconds"], "int64")),
    (Pod, ("spec", "containers", 0, "resources", "limits", "cpu"),
     ("ResourceRequirements", ["spec", "containers", "resources", "limits"], "resource.Quantity")),
])
def test_errors_are_placed_in_go_structs_and_types(model: Any, loc: tuple[Any, ...],
                                                   expected: tuple[str, list[str], str]) -> None:
    struct, path, annotation = godecode._walk(model, loc)
    assert (struct, path, godecode.go_type(annotation)) == expected


@pytest.mark.parametrize(("value", "error"), [
    ("2026-12-02T10:00:00Z", None),
    ("2026-12-02T10:00:00.123+01:00", None),
    ("2024-02-29T00:00:00Z", None),
    ("", 'parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006"'),
    ("2026-1-02T10:00:00Z", 'parsing time "2026-1-02T10:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse '
                            '"1-02T10:00:00Z" as "01"'),
    ("2026-12-02T25:00:00Z", 'parsing time "2026-12-02T25:00:00Z": hour out of range'),
    ("2026-12-02T10:61:00Z", 'parsing time "2026-12-02T10:61:00Z": minute out of range'),
    ("2025-02-29T00:00:00Z", 'parsing time "2025-02-29T00:00:00Z": day out of range'),
    ("2026-12-02T10:00:00", 'parsing time "2026-12-02T10:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as '
                            '"Z07:00"'),
    ("2026-12-02T10:00:00+25:00", 'parsing time "2026-12-02T10:00:00+25:00": time zone offset hour out of range'),
    ("2026-12-02T10:00:00Zé", 'parsing time "2026-12-02T10:00:00Z\\xc3\\xa9": extra text: "\\xc3\\xa9"'),
])
def test_time_parse_errors_read_as_go_writes_them(value: str, error: str | None) -> None:
    assert godecode.parse_time_error(value) == error
