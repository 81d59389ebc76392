"""PATCH semantics: merge patch, JSON patch and the strategic merge patch kubectl sends."""

from __future__ import annotations

import pytest

from apiserver import patching
from kube import errors

POD = {
    "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
    "spec": {"containers": [{"name": "web", "image": "v1", "env": [{"name": "X", "value": "1"}]},
                            {"name": "side", "image": "s1"}]},
}


def test_merge_patch_sets_and_removes_with_null() -> None:
    out = patching.merge_patch(POD, {"metadata": {"labels": {"a": None, "c": "3"}}})
    assert out["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert POD["metadata"]["labels"] == {"a": "1", "b": "2"}  # the input is not mutated


def test_merge_patch_replaces_lists_whole() -> None:
    out = patching.merge_patch(POD, {"spec": {"containers": [{"name": "only", "image": "x"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["only"]


def test_strategic_merge_patch_merges_containers_by_name() -> None:
    patch = {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
                      "containers": [{"name": "web", "image": "v2"}]}}
    out = patching.strategic_merge_patch(POD, patch)
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [("web", "v2"), ("side", "s1")]
    assert out["spec"]["containers"][0]["env"] == [{"name": "X", "value": "1"}]


def test_strategic_merge_patch_delete_directive() -> None:
    out = patching.strategic_merge_patch(POD, {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["web"]


def test_strategic_patch_of_conditions_by_type() -> None:
    status = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled",
                                                                               "status": "True"}]}}
    out = patching.strategic_merge_patch(status, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                           {"type": "PodScheduled", "status": "True"}]


def test_json_patch_and_its_errors() -> None:
    out = patching.json_patch(POD, [{"op": "replace", "path": "/spec/containers/0/image", "value": "v3"}])
    assert out["spec"]["containers"][0]["image"] == "v3"
    with pytest.raises(errors.Invalid):
        patching.json_patch(POD, [{"op": "remove", "path": "/spec/nope"}])
    with pytest.raises(errors.BadRequest):
        patching.json_patch(POD, {"op": "remove"})


def test_unknown_patch_type_is_unsupported_media_type() -> None:
    with pytest.raises(errors.UnsupportedMediaType):
        patching.apply_patch(POD, {}, "application/xml")
