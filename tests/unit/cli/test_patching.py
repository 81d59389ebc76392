"""Client-side apply's three-way merge patch: additions, changes, removals, fields owned by others, lists."""

from __future__ import annotations

import json

import pytest

from cli import patching


def pod(**spec_and_meta: object) -> dict:
    obj: dict = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    for key, value in spec_and_meta.items():
        (obj["metadata"] if key in ("labels", "annotations") else obj["spec"])[key] = value
    return obj


@pytest.mark.parametrize(
    ("original", "modified", "current", "patch"),
    [
        pytest.param(pod(labels={"a": "1"}), pod(labels={"a": "1"}), pod(labels={"a": "1"}), {}, id="unchanged"),
        pytest.param(pod(labels={"a": "1"}), pod(labels={"a": "2"}), pod(labels={"a": "1"}),
                     {"metadata": {"labels": {"a": "2"}}}, id="changed"),
        pytest.param(pod(labels={"a": "1", "b": "2"}), pod(labels={"a": "1"}), pod(labels={"a": "1", "b": "2"}),
                     {"metadata": {"labels": {"b": None}}}, id="removed-from-manifest-is-deleted"),
        pytest.param(pod(labels={"a": "1"}), pod(labels={"a": "1"}), pod(labels={"a": "1", "other": "x"}), {},
                     id="set-by-someone-else-is-kept"),
        pytest.param(pod(labels={"a": "1"}), pod(labels={"a": "1"}), pod(labels={"a": "drift"}),
                     {"metadata": {"labels": {"a": "1"}}}, id="drift-is-corrected"),
        pytest.param(pod(labels={"a": "1", "b": "2"}), pod(labels={"a": "1"}), pod(labels={"a": "1"}), {},
                     id="already-gone-needs-nothing"),
        pytest.param(None, pod(labels={"a": "1"}), pod(), {"metadata": {"labels": {"a": "1"}}},
                     id="no-last-applied"),
        pytest.param(pod(labels={"x": "1"}), pod(), pod(labels={"x": "1"}), {"metadata": {"labels": None}},
                     id="whole-map-removed"),
    ],
)
def test_three_way_merge_patch(original: dict | None, modified: dict, current: dict, patch: dict) -> None:
    assert patching.three_way_merge_patch(original, modified, current) == patch


def test_server_defaults_inside_list_items_do_not_count_as_changes() -> None:
    manifest = pod(containers=[{"name": "c", "image": "busybox"}])
    live = pod(containers=[{"name": "c", "image": "busybox", "imagePullPolicy": "Always",
                            "terminationMessagePath": "/dev/termination-log"}])
    live["status"] = {"phase": "Pending"}
    assert patching.three_way_merge_patch(manifest, manifest, live) == {}


def test_a_changed_list_is_sent_whole() -> None:
    before = pod(tolerations=[{"key": "a", "operator": "Exists"}])
    after = pod(tolerations=[{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}])
    assert patching.three_way_merge_patch(before, after, before) == {"spec": {"tolerations": after["spec"][
        "tolerations"]}}


def test_a_field_removed_from_a_list_item_resends_the_list() -> None:
    before = pod(containers=[{"name": "c", "image": "i", "env": [{"name": "A", "value": "1"}]}])
    after = pod(containers=[{"name": "c", "image": "i"}])
    assert patching.three_way_merge_patch(before, after, before) == {"spec": {"containers": [{"name": "c",
                                                                                              "image": "i"}]}}


def test_booleans_are_not_numbers() -> None:
    assert not patching.contains(1, True)
    assert patching.three_way_merge_patch({}, {"spec": {"x": True}}, {"spec": {"x": 1}}) == {"spec": {"x": True}}


def test_last_applied_annotation_round_trip() -> None:
    manifest = pod(labels={"a": "1"}, annotations={"note": "n"})
    stored = patching.with_last_applied(manifest)
    assert manifest["metadata"]["annotations"] == {"note": "n"}  # the input is not modified
    recorded = patching.last_applied(stored)
    assert recorded == manifest
    assert json.loads(stored["metadata"]["annotations"][patching.LAST_APPLIED]) == manifest
    again = patching.with_last_applied(stored)  # re-applying what `get -o yaml` printed does not nest it
    assert patching.last_applied(again) == manifest
    assert patching.last_applied({"metadata": {"annotations": {patching.LAST_APPLIED: "{not json"}}}) is None


def test_reapplying_an_unchanged_manifest_is_a_no_op_and_a_removed_label_goes() -> None:
    first = patching.with_last_applied(pod(labels={"a": "1", "b": "2"}))
    live = json.loads(json.dumps(first))
    live["metadata"].update(uid="u", resourceVersion="7")
    live["metadata"]["labels"]["by-controller"] = "x"
    assert patching.three_way_merge_patch(patching.last_applied(live), first, live) == {}
    second = patching.with_last_applied(pod(labels={"a": "1"}))
    patch = patching.three_way_merge_patch(patching.last_applied(live), second, live)
    assert patch["metadata"]["labels"] == {"b": None}
    assert patching.LAST_APPLIED in patch["metadata"]["annotations"]
