"""/openapi/v2: a valid Swagger 2.0 document made of the v3 documents (every path, the same operationIds and
Kubernetes extensions, definitions with their group-version-kinds and merge keys), JSON only (protobuf-only clients
get 406), and the new group-versions in v3 with the merge keys Kubernetes gives them."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openapi_spec_validator.validation.validators import OpenAPIV2SpecValidator

from apiserver import openapi
from apiserver.responses import json_response
from kube import errors

V2 = openapi.document_v2()
PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def test_the_document_is_valid_swagger_2() -> None:
    assert V2["swagger"] == "2.0"
    assert list(OpenAPIV2SpecValidator(V2).iter_errors()) == []


def test_every_v3_operation_is_in_v2_with_its_extensions() -> None:
    for group, version in openapi.group_versions():
        for path, item in openapi.document(group, version)["paths"].items():
            for method, op in item.items():
                if method == "parameters":
                    continue
                v2 = V2["paths"][path][method]
                assert v2["operationId"] == op["operationId"]
                assert v2["x-kubernetes-action"] == op["x-kubernetes-action"]
                assert v2["x-kubernetes-group-version-kind"] == op["x-kubernetes-group-version-kind"]


def test_bodies_parameters_and_answers_in_swagger_2_form() -> None:
    item = V2["paths"]["/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/{name}"]
    assert {p["name"]: p.get("type") for p in item["parameters"]} == {"name": "string", "namespace": "string",
                                                                     "pretty": "string"}
    put = item["put"]
    assert put["parameters"][0] == {"name": "body", "in": "body", "required": True,
                                    "schema": {"$ref": "#/definitions/io.k8s.api.networking.v1.Ingress"}}
    assert put["responses"]["200"]["schema"] == {"$ref": "#/definitions/io.k8s.api.networking.v1.Ingress"}
    assert "schema" not in put["responses"]["422"]
    patch = item["patch"]
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert patch["parameters"][0]["schema"] == {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}
    assert "#/components/" not in str(V2)


def test_definitions_carry_kinds_merge_keys_and_int_or_string() -> None:
    definitions = V2["definitions"]
    assert definitions["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}]
    assert definitions["io.k8s.api.events.v1.Event"]["x-kubernetes-group-version-kind"] == [
        {"group": "events.k8s.io", "kind": "Event", "version": "v1"}]
    containers = definitions["PodSpec"]["properties"]["containers"]
    assert (containers["x-kubernetes-patch-merge-key"], containers["x-kubernetes-patch-strategy"]) == ("name", "merge")
    assert definitions["NetworkPolicyPort"]["properties"]["port"]["format"] == "int-or-string"
    assert "x-kubernetes-patch-merge-key" not in definitions["NetworkPolicyIngressRule"]["properties"]["ports"]


@pytest.mark.parametrize("gv", [("networking.k8s.io", "v1"), ("events.k8s.io", "v1"), ("storage.k8s.io", "v1")])
def test_the_new_group_versions_are_documented(gv: tuple[str, str]) -> None:
    assert gv in openapi.group_versions()
    schemas = openapi.document(*gv)["components"]["schemas"]
    kinds = {"networking.k8s.io": ["Ingress", "IngressClass", "NetworkPolicy"], "events.k8s.io": ["Event"],
             "storage.k8s.io": ["StorageClass", "CSIStorageCapacity"]}[gv[0]]
    for kind in kinds:
        name = f"io.k8s.api.{gv[0].split('.')[0]}.v1.{kind}"
        assert schemas[name]["x-kubernetes-group-version-kind"] == [{"group": gv[0], "kind": kind, "version": "v1"}]


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()

    @app.exception_handler(errors.ApiError)
    async def api_error(_: object, exc: errors.ApiError) -> object:
        return json_response(exc.to_status(), exc.code)

    app.include_router(openapi.router)
    return TestClient(app)


@pytest.mark.parametrize("accept", ["application/json", "*/*", None, f"{PROTOBUF}, application/json",
                                    "application/json;q=0.9, */*;q=0.8"])
def test_served_as_json(client: TestClient, accept: str | None) -> None:
    resp = client.get("/openapi/v2", headers={"Accept": accept} if accept else {})
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    assert resp.json()["swagger"] == "2.0" and resp.headers["etag"]


@pytest.mark.parametrize("accept", [PROTOBUF, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                                    "application/json;q=0"])
def test_protobuf_only_is_not_acceptable(client: TestClient, accept: str) -> None:
    resp = client.get("/openapi/v2", headers={"Accept": accept})
    assert resp.status_code == 406
    assert resp.json()["reason"] == "NotAcceptable" and resp.json()["kind"] == "Status"
