"""Bad input against a real apiserver and etcd: refused with a Status, and nothing stored, ever.

Each case is one of issue 10's findings: names that decoded to whitespace reached the collection,
continue tokens crossed namespaces, unencodable warnings turned a committed write into a 500, deep or
out-of-range input gave 500s, watches on nonsense parameters broke or went silent. etcd's own revision is
the witness that nothing was written: only this test's apiserver writes to it while a case runs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aetcd
import httpx
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def http(async_http: httpx.AsyncClient) -> httpx.AsyncClient:
    """Raw requests as the admin (conftest's `async_http`: these tests are all async)."""
    return async_http


@pytest.fixture
async def etcd_revision(etcd_url: str) -> AsyncIterator[Any]:
    client = aetcd.Client(host="127.0.0.1", port=int(etcd_url.rsplit(":", 1)[1]))
    await client.connect()

    async def revision() -> int:
        return await _revision(client)

    try:
        yield revision
    finally:
        await client.close()


async def _revision(client: aetcd.Client) -> int:
    from aetcd import rpc

    resp = await client.kvstub.Range(rpc.RangeRequest(key=b"\0", range_end=b"\0", count_only=True))
    return resp.header.revision


@pytest.fixture
async def ns(http: httpx.AsyncClient, run_id: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    name = f"bad-{run_id}-{abs(hash(request.node.name)) % 10_000}"
    resp = await http.post("/api/v1/namespaces", json={"metadata": {"name": name, "labels": {"test": "bad-input"}}})
    assert resp.status_code == 201, resp.text
    yield name
    await http.delete(f"/api/v1/namespaces/{name}")


async def _configmaps(http: httpx.AsyncClient, ns: str, count: int) -> list[str]:
    names = [f"cm-{i}" for i in range(count)]
    for name in names:
        resp = await http.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": name}})
        assert resp.status_code == 201, resp.text
    return names


def _status(resp: httpx.Response, code: int) -> dict[str, Any]:
    assert resp.status_code == code, f"{resp.status_code} {resp.text[:300]}"
    body = resp.json()
    assert body["kind"] == "Status" and body["code"] == code, body
    return body


@pytest.mark.parametrize("segment", ["%0A", "%20", "%09", "%0D%0A", "", "%2E", "%2E%2E"],
                         ids=["newline", "space", "tab", "crlf", "empty", "dot", "dotdot"])
async def test_a_name_never_reaches_the_collection(http: httpx.AsyncClient, ns: str, segment: str,
                                                   etcd_revision: Any) -> None:
    names = await _configmaps(http, ns, 3)
    before = await etcd_revision()
    for method in ("DELETE", "GET", "PUT", "PATCH"):
        media = "application/merge-patch+json" if method == "PATCH" else "application/json"
        resp = await http.request(method, f"/api/v1/namespaces/{ns}/configmaps/{segment}",
                                  content=b"{}", headers={"Content-Type": media})
        assert resp.status_code in (400, 404, 405, 422), f"{method} {segment}: {resp.status_code} {resp.text[:200]}"
        assert resp.json().get("kind") == "Status", f"{method} {segment} answered a {resp.json().get('kind')}"
    left = (await http.get(f"/api/v1/namespaces/{ns}/configmaps")).json()["items"]
    assert sorted(c["metadata"]["name"] for c in left) == names
    assert await etcd_revision() == before


async def test_namespace_names_never_reach_all_namespaces(http: httpx.AsyncClient, ns: str) -> None:
    _status(await http.delete("/api/v1/namespaces/%0A"), 404)
    assert (await http.get(f"/api/v1/namespaces/{ns}")).status_code == 200


async def test_continue_token_stays_in_its_namespace(http: httpx.AsyncClient, ns: str, run_id: str) -> None:
    await _configmaps(http, ns, 3)
    other = f"{ns}-b"
    assert (await http.post("/api/v1/namespaces", json={"metadata": {"name": other}})).status_code == 201
    try:
        await _configmaps(http, other, 2)
        page = (await http.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": 1})).json()
        token = page["metadata"]["continue"]
        crossed = await http.get(f"/api/v1/namespaces/{other}/configmaps", params={"limit": 1, "continue": token})
        if crossed.status_code == 200:  # a relative start key can only name objects of the namespace listed
            assert all(c["metadata"]["namespace"] == other for c in crossed.json()["items"])
        else:
            _status(crossed, 400)
        rest = (await http.get(f"/api/v1/namespaces/{ns}/configmaps", params={"continue": token})).json()
        assert [c["metadata"]["name"] for c in rest["items"]] == ["cm-1", "cm-2"]
        other_selector = await http.get(f"/api/v1/namespaces/{ns}/configmaps",
                                        params={"continue": token, "labelSelector": "a=b"})
        _status(other_selector, 400)
        # delete-collection goes through the same listing
        deleted = await http.delete(f"/api/v1/namespaces/{other}/configmaps", params={"continue": token})
        assert deleted.status_code in (200, 400)
        assert len((await http.get(f"/api/v1/namespaces/{ns}/configmaps")).json()["items"]) == 3
    finally:
        await http.delete(f"/api/v1/namespaces/{other}")


@pytest.mark.parametrize("field", ["caf\u00e9\u4e16", "a\r\nInjected: 1", "a\u0085b", "emoji\U0001f600"],
                         ids=["non-latin1", "crlf", "nel", "emoji"])
async def test_unknown_field_warnings_always_encode(http: httpx.AsyncClient, ns: str, field: str) -> None:
    resp = await http.post(f"/api/v1/namespaces/{ns}/configmaps",
                           json={"metadata": {"name": "warned"}, field: "x"})
    assert resp.status_code == 201, resp.text
    warning = resp.headers["warning"]
    assert warning.startswith('299 - "unknown field') and warning.isascii() and "\r" not in warning
    assert "injected" not in {k.lower() for k in resp.headers}


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", b'{"metadata":{"name":"deep"},"data":' + b'{"a":' * 10_000 + b'1' + b"}" * 10_001),
    ("application/yaml", b"metadata: {name: deep}\ndata: " + b"[" * 10_000 + b"]" * 10_000),
    ("application/json", b'{"metadata":{"name":"nan"},"data":{"a":NaN}}'),
], ids=["json", "yaml", "nan"])
async def test_deep_or_odd_bodies_are_400(http: httpx.AsyncClient, ns: str, content_type: str, body: bytes,
                                          etcd_revision: Any) -> None:
    before = await etcd_revision()
    _status(await http.post(f"/api/v1/namespaces/{ns}/configmaps", content=body,
                            headers={"Content-Type": content_type}), 400)
    assert await etcd_revision() == before


async def test_deep_merge_patch_is_400(http: httpx.AsyncClient, ns: str, etcd_revision: Any) -> None:
    await _configmaps(http, ns, 1)
    before = await etcd_revision()
    body = b'{"metadata":' * 10_000 + b"{}" + b"}" * 10_000
    _status(await http.patch(f"/api/v1/namespaces/{ns}/configmaps/cm-0", content=body,
                             headers={"Content-Type": "application/merge-patch+json"}), 400)
    assert await etcd_revision() == before


@pytest.mark.parametrize("params", [
    {"limit": str(10**20)}, {"limit": "-1"}, {"timeoutSeconds": "nan", "watch": "true"},
    {"resourceVersion": "-1"}, {"resourceVersion": "x"}, {"labelSelector": "a" * 70 + "=b"},
    {"fieldSelector": "metadata.name==a==b"}, {"continue": "bm9wZQ"},
    {"continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAsInN0YXJ0IjoiYSJ9"},
], ids=lambda p: "&".join(f"{k}={v[:12]}" for k, v in p.items()))
async def test_bad_list_parameters_are_client_errors(http: httpx.AsyncClient, params: dict[str, str]) -> None:
    resp = await http.get("/api/v1/namespaces/default/configmaps", params=params)
    assert resp.status_code in (400, 422), f"{resp.status_code} {resp.text[:200]}"
    assert resp.json()["kind"] == "Status"


async def test_a_future_resource_version_is_too_large_not_silent(http: httpx.AsyncClient,
                                                                 etcd_revision: Any) -> None:
    future = str(await etcd_revision() + 1000)
    for params in ({"resourceVersion": future}, {"resourceVersion": future, "watch": "true"}):
        body = _status(await http.get("/api/v1/namespaces/default/configmaps", params=params), 504)
        assert body["reason"] == "Timeout" and "Too large resource version" in body["message"]
        assert body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


@pytest.mark.parametrize(("content_type", "patch"), [
    ("application/strategic-merge-patch+json", {"$deleteFromPrimitiveList/finalizers": 5}),
    ("application/strategic-merge-patch+json", {"metadata": {"labels": ["a"]}, "data": {"$patch": 3}}),
    ("application/merge-patch+json", ["not", "a", "map"]),
    ("application/json-patch+json", [{"op": "replace", "path": 5, "value": 1}]),
], ids=["delete-from-list-not-a-list", "wrong-shapes", "merge-list", "jsonpatch-bad-path"])
async def test_malformed_patches_are_client_errors(http: httpx.AsyncClient, ns: str, content_type: str,
                                                   patch: Any, etcd_revision: Any) -> None:
    await _configmaps(http, ns, 1)
    before = await etcd_revision()
    resp = await http.patch(f"/api/v1/namespaces/{ns}/configmaps/cm-0", content=json.dumps(patch),
                            headers={"Content-Type": content_type})
    assert 400 <= resp.status_code < 500, f"{resp.status_code} {resp.text[:200]}"
    assert await etcd_revision() == before


async def test_apply_patch_yaml_with_non_string_keys(http: httpx.AsyncClient, ns: str) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-0\ndata:\n  1: one\n  true: yes\n"
    await _configmaps(http, ns, 1)
    resp = await http.patch(f"/api/v1/namespaces/{ns}/configmaps/cm-0", content=body,
                            params={"fieldManager": "t"}, headers={"Content-Type": "application/apply-patch+yaml"})
    assert resp.status_code < 500, resp.text
    if resp.status_code == 200:
        assert set(resp.json()["data"]) <= {"1", "true"}


async def test_strict_field_validation_refuses_duplicate_keys(http: httpx.AsyncClient, ns: str,
                                                              etcd_revision: Any) -> None:
    body = b'{"metadata":{"name":"dup"},"data":{"a":"1","a":"2"}}'
    before = await etcd_revision()
    resp = await http.post(f"/api/v1/namespaces/{ns}/configmaps", content=body,
                           params={"fieldValidation": "Strict"}, headers={"Content-Type": "application/json"})
    assert "duplicate field" in _status(resp, 400)["message"]
    assert await etcd_revision() == before
    warned = await http.post(f"/api/v1/namespaces/{ns}/configmaps", content=body,
                             headers={"Content-Type": "application/json"})
    assert warned.status_code == 201 and 'duplicate field \\"a\\"' in warned.headers["warning"]


async def test_unknown_body_types_are_415(http: httpx.AsyncClient, ns: str, etcd_revision: Any) -> None:
    before = await etcd_revision()
    _status(await http.post(f"/api/v1/namespaces/{ns}/configmaps", content=b"metadata",
                            headers={"Content-Type": "text/plain"}), 415)
    assert await etcd_revision() == before


@pytest.mark.parametrize("body", [{"metadata": True}, {"metadata": "x"}, {"deleteOptions": 5},
                                  {"deleteOptions": []}], ids=["metadata-bool", "metadata-str", "options-int",
                                                               "options-list"])
async def test_an_eviction_of_the_wrong_shape_is_a_400_and_the_pod_stays(http: httpx.AsyncClient, ns: str,
                                                                         body: dict[str, Any]) -> None:
    pod = {"metadata": {"name": "stay"}, "spec": {"containers": [{"name": "c", "image": "busybox:latest"}]}}
    assert (await http.post(f"/api/v1/namespaces/{ns}/pods", json=pod)).status_code == 201
    for params in ({}, {"dryRun": "All"}):
        resp = await http.post(f"/api/v1/namespaces/{ns}/pods/stay/eviction", json=body, params=params)
        _status(resp, 400)
    assert (await http.get(f"/api/v1/namespaces/{ns}/pods/stay")).status_code == 200  # same connection, still there
