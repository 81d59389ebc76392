"""The served OpenAPI v3 documents declare every operation the apiserver serves, the way Kubernetes' do, so that
generators and fuzzers can use them (issue 10: no path parameters, no list/watch/deletecollection, only 200)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis

from apiserver import openapi
from kube.resources import RESOURCES, ResourceType

GVS = openapi.group_versions()
_METHODS = ("get", "put", "post", "delete", "patch")
_STATUS = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status"


def _gv_id(gv: tuple[str, str]) -> str:
    return f"{gv[0] or 'core'}/{gv[1]}"


def _base(rt: ResourceType) -> str:
    return f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"


def _collection(rt: ResourceType) -> str:
    return f"{_base(rt)}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{_base(rt)}/{rt.plural}"


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(path, method, operation, parameters including the path item's)."""
    out = []
    for path, item in doc["paths"].items():
        for method in _METHODS:
            if method in item:
                out.append((path, method, item[method], item.get("parameters", []) + item[method].get("parameters",
                                                                                                        [])))
    return out


def _query_names(params: list[dict[str, Any]]) -> set[str]:
    return {p["name"] for p in params if p["in"] == "query"}


@pytest.mark.parametrize("gv", GVS, ids=_gv_id)
def test_every_template_variable_is_a_required_path_parameter(gv: tuple[str, str]) -> None:
    for path, method, _, params in _operations(openapi.document(*gv)):
        declared = {p["name"] for p in params if p["in"] == "path" and p.get("required")}
        assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)


@pytest.mark.parametrize("rt", RESOURCES, ids=lambda r: f"{r.plural}.{r.group or 'core'}")
def test_every_verb_of_every_resource(rt: ResourceType) -> None:
    paths = openapi.document(rt.group, rt.version)["paths"]
    actions = {(path, method): item[method]["x-kubernetes-action"] for path, item in paths.items()
               for method in _METHODS if method in item}
    item = f"{_collection(rt)}/{{name}}"
    assert actions[(_collection(rt), "get")] == "list"
    assert actions[(_collection(rt), "post")] == "post"
    assert actions[(_collection(rt), "delete")] == "deletecollection"
    assert [actions[(item, m)] for m in ("get", "put", "patch", "delete")] == ["get", "put", "patch", "delete"]
    if rt.namespaced:
        assert actions[(f"{_base(rt)}/{rt.plural}", "get")] == "list"  # across all namespaces
    for sub in ("status", "scale"):
        if sub in rt.subresources:
            assert {m for (p, m) in actions if p == f"{item}/{sub}"} == {"get", "put", "patch"}
    for sub in ("binding", "eviction"):
        if sub in rt.subresources:
            assert {m for (p, m) in actions if p == f"{item}/{sub}"} == {"post"}


@pytest.mark.parametrize(("gv", "path", "method", "op_id", "gvk"), [
    pytest.param(("", "v1"), "/api/v1/namespaces/{namespace}/pods", "get", "listCoreV1NamespacedPod",
                 ("", "v1", "Pod"), id="list-pods"),
    pytest.param(("", "v1"), "/api/v1/pods", "get", "listCoreV1PodForAllNamespaces", ("", "v1", "Pod"),
                 id="list-pods-all-namespaces"),
    pytest.param(("", "v1"), "/api/v1/namespaces/{namespace}/pods", "delete", "deleteCoreV1CollectionNamespacedPod",
                 ("", "v1", "Pod"), id="deletecollection-pods"),
    pytest.param(("", "v1"), "/api/v1/namespaces/{namespace}/pods/{name}/binding", "post",
                 "createCoreV1NamespacedPodBinding", ("", "v1", "Binding"), id="pod-binding"),
    pytest.param(("", "v1"), "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post",
                 "createCoreV1NamespacedPodEviction", ("policy", "v1", "Eviction"), id="pod-eviction"),
    pytest.param(("", "v1"), "/api/v1/namespaces/{name}/finalize", "put", "replaceCoreV1NamespaceFinalize",
                 ("", "v1", "Namespace"), id="namespace-finalize"),
    pytest.param(("", "v1"), "/api/v1/nodes/{name}/status", "patch", "patchCoreV1NodeStatus", ("", "v1", "Node"),
                 id="node-status"),
    pytest.param(("apps", "v1"), "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "get",
                 "readAppsV1NamespacedDeploymentScale", ("autoscaling", "v1", "Scale"), id="deployment-scale"),
    pytest.param(("rbac.authorization.k8s.io", "v1"), "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
                 "put", "replaceRbacAuthorizationV1ClusterRole", ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
                 id="clusterrole-replace"),
])
def test_kubernetes_names(gv: tuple[str, str], path: str, method: str, op_id: str, gvk: tuple[str, str, str]) -> None:
    op = openapi.document(*gv)["paths"][path][method]
    assert op["operationId"] == op_id
    assert op["x-kubernetes-group-version-kind"] == {"group": gvk[0], "version": gvk[1], "kind": gvk[2]}


@pytest.mark.parametrize(("action", "query", "answers"), [
    pytest.param("list", {"labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
                          "resourceVersionMatch", "timeoutSeconds", "watch", "allowWatchBookmarks",
                          "sendInitialEvents", "pretty"}, {"200"}, id="list"),
    pytest.param("post", {"dryRun", "fieldManager", "fieldValidation", "pretty"}, {"200", "201", "202"}, id="create"),
    pytest.param("put", {"dryRun", "fieldManager", "fieldValidation", "pretty"}, {"200", "201"}, id="update"),
    pytest.param("patch", {"dryRun", "fieldManager", "fieldValidation", "force", "pretty"}, {"200", "201"},
                 id="patch"),
    pytest.param("delete", {"dryRun", "gracePeriodSeconds", "propagationPolicy", "orphanDependents", "pretty"},
                 {"200", "202"}, id="delete"),
    pytest.param("deletecollection", {"dryRun", "gracePeriodSeconds", "propagationPolicy", "orphanDependents",
                                      "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
                                      "resourceVersionMatch", "timeoutSeconds", "sendInitialEvents", "pretty"},
                 {"200"}, id="deletecollection"),
])
@pytest.mark.parametrize("gv", GVS, ids=_gv_id)
def test_query_parameters_and_answers_per_verb(gv: tuple[str, str], action: str, query: set[str],
                                                answers: set[str]) -> None:
    found = 0
    for path, _, op, params in _operations(openapi.document(*gv)):
        if op["x-kubernetes-action"] != action or path.endswith("/log"):
            continue
        found += 1
        assert _query_names(params) == query, path
        codes = set(op["responses"])
        assert {c for c in codes if c < "300"} == answers, path
        errors = {c: r for c, r in op["responses"].items() if c >= "400"}
        assert {"400", "404", "500"} <= set(errors), path
        assert all(r["content"]["application/json"]["schema"]["$ref"] == _STATUS for r in errors.values()), path
    assert found


@pytest.mark.parametrize("gv", GVS, ids=_gv_id)
def test_request_bodies(gv: tuple[str, str]) -> None:
    for path, method, op, _ in _operations(openapi.document(*gv)):
        if method == "patch":
            assert set(op["requestBody"]["content"]) == {
                "application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml"}, path
            assert op["requestBody"]["content"]["application/json-patch+json"]["schema"]["type"] == "array"
        if method in ("post", "put"):
            assert op["requestBody"]["required"] is True
            assert "application/json" in op["requestBody"]["content"], path
        if method == "delete":
            assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(".DeleteOptions")


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {node["$ref"]} if "$ref" in node else set().union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(set(), *(_refs(v) for v in node))
    return set()


@pytest.mark.parametrize("gv", GVS, ids=_gv_id)
def test_every_reference_resolves_and_operation_ids_are_unique(gv: tuple[str, str]) -> None:
    doc = openapi.document(*gv)
    names = {f"#/components/schemas/{n}" for n in doc["components"]["schemas"]}
    assert _refs(doc) <= names
    ids = [op["operationId"] for _, _, op, _ in _operations(doc)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("gv", GVS, ids=_gv_id)
def test_kinds_and_lists_carry_their_group_version_kind(gv: tuple[str, str]) -> None:
    schemas = openapi.document(*gv)["components"]["schemas"]
    for rt in (r for r in RESOURCES if (r.group, r.version) == gv):
        short = (rt.group or "core").split(".")[0]
        for kind in (rt.kind, rt.list_kind):
            schema = schemas[f"io.k8s.api.{short}.{rt.version}.{kind}"]
            assert schema["x-kubernetes-group-version-kind"] == [{"group": rt.group, "version": rt.version,
                                                                  "kind": kind}]
        assert schemas[f"io.k8s.api.{short}.{rt.version}.{rt.list_kind}"]["required"] == ["items"]


@pytest.mark.parametrize("gv", GVS, ids=_gv_id)
def test_schemathesis_takes_every_operation(gv: tuple[str, str]) -> None:
    """A fuzzer loads the document and generates requests for each operation, templated ones included."""
    schema = schemathesis.openapi.from_dict(openapi.document(*gv))
    operations = [result.ok() for result in schema.get_all_operations()]  # raises on an operation it refuses
    assert len(operations) == len(_operations(openapi.document(*gv)))
    for op in operations:
        assert {p.name for p in op.path_parameters} == set(re.findall(r"{(\w+)}", op.path)), op.label
