"""Server-side apply field ownership: FieldsV1 round trips on real Kubernetes output, apply (create, shared
fields, conflicts, force, pruning, keyed and atomic lists) and the Update entries of other writes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver import fieldmanager as fm
from kube import errors

T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"

# From the Kubernetes documentation (reference/using-api/server-side-apply): a ConfigMap applied by kubectl.
DOCS_CM = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
           "data": {"key": "some value"}}
DOCS_CM_FIELDS = {"f:metadata": {"f:labels": {"f:test-label": {}}}, "f:data": {"f:key": {}}}

# `kubectl get deployments.apps/nginx -o json | jq .metadata.managedFields[]` on Kubernetes 1.19
# (https://pastebin.com/f24w6zGp): the controller-manager's status entry.
REAL_DEPLOYMENT_STATUS_FIELDS = {
    "f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
    "f:status": {
        "f:conditions": {
            ".": {},
            'k:{"type":"Available"}': {".": {}, "f:lastTransitionTime": {}, "f:lastUpdateTime": {},
                                       "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}},
            'k:{"type":"Progressing"}': {".": {}, "f:lastTransitionTime": {}, "f:lastUpdateTime": {},
                                         "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}},
        },
        "f:observedGeneration": {}, "f:replicas": {}, "f:unavailableReplicas": {}, "f:updatedReplicas": {},
    },
}

# What `kubectl apply --server-side` records for a Deployment on Kubernetes 1.2x (spec.selector is atomic,
# container ports are keyed by containerPort and protocol).
REAL_DEPLOYMENT_APPLY_FIELDS = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {'k:{"name":"nginx"}': {
                ".": {}, "f:image": {}, "f:name": {},
                "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}},
        },
    },
}


def deployment(replicas: int = 2, image: str = "nginx:1.25", **extra: Any) -> dict[str, Any]:
    container = {"name": "nginx", "image": image, "ports": [{"containerPort": 80}], **extra}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "nginx"}},
                     "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [container]}}}}


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str, operation: str = "Apply") -> set[str]:
    entry = entries(obj).get((manager, operation))
    return {fm.path_string(p) for p in fm.from_fields_v1(entry["fieldsV1"])} if entry else set()


def edited(obj: dict[str, Any], change: Any, manager: str = "kubectl-edit", now: str = T1,
           subresource: str | None = None) -> dict[str, Any]:
    """obj after a non-apply write (as kubectl edit would PUT it) that `change` makes in place."""
    new = copy.deepcopy(obj)
    change(new)
    new["metadata"]["managedFields"] = fm.update(obj, new, manager, "apps/v1", subresource, now)
    return new


def applied(live: dict[str, Any] | None, config: dict[str, Any], manager: str = "kubectl", force: bool = False,
            now: str = T0) -> dict[str, Any]:
    return fm.apply(live, config, manager, "apps/v1", force, now)


def set_replicas(obj: dict[str, Any]) -> None:
    obj["spec"]["replicas"] = 5


# ---------------------------------------------------------------- FieldsV1


@pytest.mark.parametrize("fields", [DOCS_CM_FIELDS, REAL_DEPLOYMENT_STATUS_FIELDS, REAL_DEPLOYMENT_APPLY_FIELDS],
                         ids=["docs-configmap", "controller-manager-status", "kubectl-server-side-apply"])
def test_fields_v1_round_trip_of_real_output(fields: dict[str, Any]) -> None:
    assert fm.to_fields_v1(fm.from_fields_v1(fields)) == fields


def test_fields_v1_members_and_dot() -> None:
    paths = {fm.path_string(p) for p in fm.from_fields_v1(REAL_DEPLOYMENT_STATUS_FIELDS)}
    assert '.status.conditions[type="Available"]' in paths  # `.` makes the item itself a member
    assert '.status.conditions[type="Available"].reason' in paths
    assert ".status.conditions" in paths and ".status" not in paths


@pytest.mark.parametrize(("element", "canonical"), [
    ('k:{"protocol":"TCP","containerPort":80}', 'k:{"containerPort":80,"protocol":"TCP"}'),
    ('v:"kubernetes.io/pvc-protection"', 'v:"kubernetes.io/pvc-protection"'),
    ("i:3", "i:3"),
], ids=["key-fields-sorted", "set-value", "index"])
def test_fields_v1_elements_are_canonical(element: str, canonical: str) -> None:
    assert fm.from_fields_v1({"f:x": {element: {}}}) == {("f:x", canonical)}


def test_fields_v1_skips_unknown_element_types_and_rejects_garbage() -> None:
    assert fm.from_fields_v1({"f:a": {}, "z:future": {}}) == {("f:a",)}
    with pytest.raises(ValueError):
        fm.from_fields_v1({"k:not-json": {}})


@pytest.mark.parametrize(("path", "text"), [
    (("f:spec", "f:replicas"), ".spec.replicas"),
    (("f:spec", "f:containers", 'k:{"name":"web"}', "f:image"), '.spec.containers[name="web"].image'),
    (("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'), '.ports[containerPort=80,protocol="TCP"]'),
    (("f:metadata", "f:finalizers", 'v:"a/b"'), '.metadata.finalizers[="a/b"]'),
    (("f:args", "i:0"), ".args[0]"),
], ids=["field", "keyed-item", "multi-key", "set-item", "index"])
def test_path_string_as_kubernetes_prints_it(path: fm.Path, text: str) -> None:
    assert fm.path_string(path) == text


def test_fields_of_follows_list_and_map_semantics() -> None:
    obj = {"metadata": {"finalizers": ["a"], "labels": {}},
           "spec": {"selector": {"app": "x"}, "containers": [{"name": "c", "args": ["-v"]}]}}
    assert {fm.path_string(p) for p in fm.fields_of(obj)} == {
        '.metadata.finalizers[="a"]', ".metadata.labels", ".spec.selector", '.spec.containers[name="c"]',
        '.spec.containers[name="c"].name', '.spec.containers[name="c"].args'}


# ---------------------------------------------------------------- apply


def test_create_by_apply_records_exactly_the_config() -> None:
    obj = fm.apply(None, DOCS_CM, "kubectl", "v1", False, T0)
    assert obj["data"] == {"key": "some value"}
    assert obj["metadata"]["managedFields"] == [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                                                 "time": T0, "fieldsType": "FieldsV1", "fieldsV1": DOCS_CM_FIELDS}]
    assert "managedFields" not in DOCS_CM["metadata"]  # inputs are never mutated


def test_create_by_apply_of_a_deployment_matches_kubernetes() -> None:
    assert entries(applied(None, deployment()))[("kubectl", "Apply")]["fieldsV1"] == REAL_DEPLOYMENT_APPLY_FIELDS


def test_apply_that_changes_nothing_keeps_the_time() -> None:
    obj = applied(None, deployment())
    again = applied(obj, deployment(), now=T2)
    assert again == obj


def test_two_appliers_share_a_field_set_to_the_same_value() -> None:
    obj = applied(None, deployment())
    obj = applied(obj, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"},
                        "spec": {"replicas": 2}}, manager="autoscaler")
    assert ".spec.replicas" in owned(obj, "kubectl") and owned(obj, "autoscaler") == {".spec.replicas"}
    # Either one changing it now overrules the other.
    with pytest.raises(errors.Conflict):
        applied(obj, deployment(replicas=4))


CONFLICT_CASES = [
    pytest.param(lambda o: set_replicas(o), deployment(replicas=3),
                 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas',
                 [".spec.replicas"], id="one-field"),
    pytest.param(lambda o: (set_replicas(o), o["spec"]["template"]["spec"]["containers"][0].update(image="x")),
                 deployment(replicas=3, image="nginx:1.26"),
                 'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1:\n'
                 '- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image',
                 [".spec.replicas", '.spec.template.spec.containers[name="nginx"].image'], id="two-fields"),
]


@pytest.mark.parametrize(("edit", "config", "message", "fields"), CONFLICT_CASES)
def test_conflict_with_another_manager(edit: Any, config: dict[str, Any], message: str, fields: list[str]) -> None:
    obj = edited(applied(None, deployment()), edit)
    with pytest.raises(errors.Conflict) as caught:
        applied(obj, config)
    status = caught.value.to_status()
    assert (status["code"], status["reason"], status["message"]) == (409, "Conflict", message)
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using apps/v1', "field": f}
        for f in fields]


def test_conflict_with_an_applier_names_it_without_a_version() -> None:
    obj = applied(None, deployment())
    with pytest.raises(errors.Conflict, match=r'^Apply failed with 1 conflict: conflict with "kubectl": '
                                              r"\.spec\.replicas$"):
        applied(obj, {"spec": {"replicas": 9}}, manager="hpa")


def test_force_takes_the_conflicting_fields_over() -> None:
    obj = edited(applied(None, deployment()), set_replicas)
    forced = applied(obj, deployment(replicas=3), force=True, now=T2)
    assert forced["spec"]["replicas"] == 3
    assert ("kubectl-edit", "Update") not in entries(forced)  # it owned nothing else: its entry is gone
    assert ".spec.replicas" in owned(forced, "kubectl")
    assert entries(forced)[("kubectl", "Apply")]["time"] == T2


def test_force_leaves_the_other_managers_other_fields() -> None:
    obj = edited(applied(None, deployment()), lambda o: (set_replicas(o), o["metadata"]["labels"].update(team="a")))
    forced = applied(obj, deployment(replicas=3), force=True)
    assert owned(forced, "kubectl-edit", "Update") == {".metadata.labels.team"}


def without_label(config: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(config)
    del config["metadata"]["labels"]
    return config


PRUNE_CASES = [
    pytest.param(None, False, id="only-owner-removes-it"),
    pytest.param(lambda o: applied(o, {"metadata": {"name": "nginx", "labels": {"app": "nginx"}}}, manager="other"),
                 True, id="another-applier-keeps-it"),
    pytest.param(lambda o: edited(o, lambda n: n["metadata"]["labels"].update(app="web")), True,
                 id="an-updater-keeps-it"),
]


@pytest.mark.parametrize(("co_owner", "kept"), PRUNE_CASES)
def test_field_removed_from_the_config(co_owner: Any, kept: bool) -> None:
    obj = applied(None, deployment())
    if co_owner:
        obj = co_owner(obj)
    after = applied(obj, without_label(deployment()))
    assert ("app" in after["metadata"].get("labels", {})) is kept
    assert ".metadata.labels.app" not in owned(after, "kubectl")
    if not kept:
        assert "labels" not in after["metadata"]  # emptied by the removal: gone, as in Kubernetes


def test_fields_never_applied_are_not_removed() -> None:
    obj = edited(applied(None, deployment()), lambda o: o["metadata"].setdefault("annotations", {}).update(a="1"))
    obj["spec"]["revisionHistoryLimit"] = 10  # defaulted by the server: nobody owns it
    after = applied(obj, without_label(deployment()))
    assert after["metadata"]["annotations"] == {"a": "1"} and after["spec"]["revisionHistoryLimit"] == 10


def sidecar(image: str = "envoy:1") -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "envoy", "image": image}]}}}}


KEYED_CASES = [
    pytest.param(lambda o: applied(o, deployment()), ["nginx", "envoy"], id="other-applier-item-survives"),
    pytest.param(lambda o: applied(o, sidecar(), manager="mesh"), ["nginx", "envoy"], id="shared-item-same-value"),
    pytest.param(lambda o: applied(o, {"spec": {"template": {"spec": {"containers": []}}}}, manager="mesh"),
                 ["nginx"], id="owner-drops-its-item"),
]


@pytest.mark.parametrize(("step", "names"), KEYED_CASES)
def test_keyed_list_items_are_owned_one_by_one(step: Any, names: list[str]) -> None:
    obj = applied(applied(None, deployment()), sidecar(), manager="mesh")
    assert owned(obj, "mesh") == {'.spec.template.spec.containers[name="envoy"]',
                                  '.spec.template.spec.containers[name="envoy"].name',
                                  '.spec.template.spec.containers[name="envoy"].image'}
    after = step(obj)
    assert [c["name"] for c in after["spec"]["template"]["spec"]["containers"]] == names
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"


def test_keyed_list_item_conflict_names_the_item() -> None:
    obj = applied(applied(None, deployment()), sidecar(), manager="mesh")
    with pytest.raises(errors.Conflict) as caught:
        applied(obj, sidecar("envoy:2"), manager="other")
    assert caught.value.causes[0]["field"] == '.spec.template.spec.containers[name="envoy"].image'


def args_only(args: list[str]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "args": args}]}}}}


ATOMIC_CASES = [
    pytest.param("kubectl", deployment(args=["-x", "-v"]), ["-x", "-v"], {"kubectl"}, id="owner-replaces-it-whole"),
    pytest.param("other", args_only(["-v"]), ["-v"], {"kubectl", "other"}, id="equal-list-is-shared"),
    pytest.param("other", args_only(["-v", "-q"]), None, set(), id="a-changed-list-conflicts"),
]


@pytest.mark.parametrize(("manager", "config", "args", "owners"), ATOMIC_CASES)
def test_atomic_lists_are_owned_whole(manager: str, config: dict[str, Any], args: list[str] | None,
                                      owners: set[str]) -> None:
    path = '.spec.template.spec.containers[name="nginx"].args'
    obj = applied(None, deployment(args=["-v"]))
    if args is None:
        with pytest.raises(errors.Conflict) as caught:
            applied(obj, config, manager=manager)
        assert [c["field"] for c in caught.value.causes] == [path]
        return
    after = applied(obj, config, manager=manager)
    assert after["spec"]["template"]["spec"]["containers"][0]["args"] == args
    assert {m for m in ("kubectl", "other") if path in owned(after, m)} == owners
    assert not any(p.startswith(path + "[") for p in owned(after, manager))  # never item by item


def test_atomic_selector_and_set_finalizers() -> None:
    obj = applied(None, {"metadata": {"name": "x", "finalizers": ["a"]}, "spec": {"selector": {"app": "x"}}})
    obj = applied(obj, {"metadata": {"name": "x", "finalizers": ["b"]}}, manager="other")
    assert obj["metadata"]["finalizers"] == ["a", "b"]  # a set: values merge
    assert owned(obj, "other") == {'.metadata.finalizers[="b"]'}
    with pytest.raises(errors.Conflict, match=r"\.spec\.selector$"):
        applied(obj, {"spec": {"selector": {"app": "y"}}}, manager="other")


def test_first_apply_to_an_untracked_object_credits_before_first_apply() -> None:
    live = deployment()
    with pytest.raises(errors.Conflict, match='conflict with "before-first-apply" using apps/v1'):
        applied(live, {"spec": {"replicas": 7}})
    after = applied(live, {"spec": {"replicas": 2}})
    assert ".spec.replicas" in owned(after, "before-first-apply", "Update")


def test_apply_to_status_subresource_touches_only_status() -> None:
    obj = applied(None, deployment())
    after = fm.apply(obj, {"spec": {"replicas": 9}, "status": {"replicas": 1}}, "ctrl", "apps/v1", False, T1,
                     subresource="status")
    assert after["spec"]["replicas"] == 2 and after["status"] == {"replicas": 1}
    entry = entries(after)[("ctrl", "Apply")]
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}


# ---------------------------------------------------------------- update (create, update, patch)


def test_create_by_update_owns_everything_with_dots_for_new_maps() -> None:
    obj = deployment()
    mf = fm.update(None, obj, "kubectl-create", "apps/v1", None, T0)
    assert [(e["manager"], e["operation"], e["time"]) for e in mf] == [("kubectl-create", "Update", T0)]
    fields = mf[0]["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}  # as Kubernetes shows it
    assert set(fields["f:spec"]) == {"f:replicas", "f:selector", "f:template"}


UPDATE_CASES = [
    pytest.param(set_replicas, {".spec.replicas"}, id="changed-field-moves"),
    pytest.param(lambda o: o["metadata"]["labels"].update(tier="web"), {".metadata.labels.tier"}, id="added-field"),
    pytest.param(lambda o: o["metadata"].update(resourceVersion="9", generation=3), set(), id="untracked-metadata"),
    pytest.param(lambda o: o.update(status={"replicas": 2}), set(), id="status-on-main-resource"),
    pytest.param(lambda o: None, set(), id="no-change-no-entry"),
]


@pytest.mark.parametrize(("change", "mine"), UPDATE_CASES)
def test_update_moves_what_changed(change: Any, mine: set[str]) -> None:
    obj = applied(None, deployment())
    after = edited(obj, change)
    assert owned(after, "kubectl-edit", "Update") == mine
    assert owned(after, "kubectl") == owned(obj, "kubectl") - mine


def test_update_removing_a_field_takes_it_from_its_owner() -> None:
    after = edited(applied(None, deployment()), lambda o: o["spec"].pop("replicas"))
    assert ".spec.replicas" not in owned(after, "kubectl") and ("kubectl-edit", "Update") not in entries(after)


def test_update_entries_per_manager_version_and_subresource() -> None:
    obj = edited(applied(None, deployment()), set_replicas)
    obj = edited(obj, lambda o: o["metadata"]["labels"].update(b="1"), now=T2)  # same manager: one entry, merged
    obj = edited(obj, lambda o: o.update(status={"replicas": 2}), manager="kube-controller-manager",
                 subresource="status")
    mf = obj["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"], e.get("subresource")) for e in mf] == [
        ("kubectl", "Apply", None), ("kube-controller-manager", "Update", "status"), ("kubectl-edit", "Update", None)]
    assert owned(obj, "kubectl-edit", "Update") == {".spec.replicas", ".metadata.labels.b"}
    assert entries(obj)[("kubectl-edit", "Update")]["time"] == T2
    assert owned(obj, "kube-controller-manager", "Update") == {".status.replicas"}


def test_status_write_ignores_everything_but_status() -> None:
    obj = applied(None, deployment())
    after = edited(obj, lambda o: (set_replicas(o), o.update(status={"replicas": 1})), manager="ctrl",
                   subresource="status")
    assert owned(after, "ctrl", "Update") == {".status.replicas"} and ".spec.replicas" in owned(after, "kubectl")


@pytest.mark.parametrize(("sent", "expected"), [
    ([{}], []),
    ([], []),
    ([{"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
       "fieldsV1": {"f:data": {"f:a": {}}}}], [("m", {"f:data": {"f:a": {}}})]),
], ids=["reset-with-empty-entry", "reset-with-empty-list", "replaced-by-the-client"])
def test_clients_may_set_managed_fields(sent: list[dict[str, Any]], expected: list[Any]) -> None:
    live = fm.apply(None, {"metadata": {"name": "c"}, "data": {"a": "1"}}, "kubectl", "v1", False, T0)
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = sent
    assert [(e["manager"], e["fieldsV1"]) for e in fm.update(live, new, "edit", "v1", None, T1)] == expected


def test_an_existing_untracked_object_stays_untracked_on_update() -> None:
    live = deployment()
    new = copy.deepcopy(live)
    set_replicas(new)
    assert fm.update(live, new, "kubectl-edit", "apps/v1", None, T1) == []
