"""The apiserver over a real etcd: CRUD, optimistic concurrency, validation that stores nothing,
selectors and pagination, graceful deletion, bindings, and watch streams."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aetcd
import httpx
import pytest

from kube import errors
from kube.client import ApiClient
from kube.resources import NAMESPACES, NODES, PODS
from tests.e2e.conftest import start_apiserver
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name.rsplit("-", 1)[0]}},
        "spec": {"containers": [{"name": "main", "image": "busybox:latest"}], **spec},
    }


async def test_the_suite_runs_secured(apiserver: Apiserver) -> None:
    """The suite's apiserver is the one users run: TLS only, anonymous requests reach the public health and
    version paths and nothing else, the admin's client certificate gets in."""
    async with apiserver.async_http(identity=None) as anonymous:
        for path in ("/readyz", "/livez", "/healthz", "/version"):
            assert (await anonymous.get(path)).status_code == 200, path
        for path in ("/api", "/api/v1/namespaces", "/apis/apps/v1/deployments"):
            refused = await anonymous.get(path)
            assert refused.status_code == 401 and refused.json()["reason"] == "Unauthorized", path
    async with apiserver.async_http() as admin:
        assert (await admin.get("/api/v1/namespaces")).status_code == 200
    async with httpx.AsyncClient(timeout=5) as plain:
        with pytest.raises(httpx.HTTPError):
            await plain.get(apiserver.url.replace("https://", "http://", 1) + "/readyz")


async def test_bootstrap_namespaces_exist(api: ApiClient) -> None:
    names = {n["metadata"]["name"] for n in (await api.list(NAMESPACES))["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


async def test_create_get_update_delete_roundtrip(api: ApiClient, run_id: str) -> None:
    created = await api.create(PODS, pod(f"crud-{run_id}"), "default")
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and int(meta["resourceVersion"]) > 0
    assert created["status"]["phase"] == "Pending"
    assert created["spec"]["restartPolicy"] == "Always"  # server-side defaults
    assert created["spec"]["containers"][0]["imagePullPolicy"] == "Always"

    fetched = await api.get(PODS, f"crud-{run_id}", "default")
    assert fetched == created

    fetched["metadata"]["labels"]["tier"] = "web"
    updated = await api.replace(PODS, fetched)
    assert updated["metadata"]["labels"]["tier"] == "web"
    assert int(updated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])

    deleted = await api.delete(PODS, f"crud-{run_id}", "default")
    assert deleted["metadata"]["uid"] == meta["uid"]
    with pytest.raises(errors.NotFound):
        await api.get(PODS, f"crud-{run_id}", "default")


async def test_stale_update_conflicts_and_changes_nothing(api: ApiClient, run_id: str) -> None:
    first = await api.create(PODS, pod(f"cas-{run_id}"), "default")
    fresh = await api.patch(PODS, f"cas-{run_id}", {"metadata": {"labels": {"v": "2"}}}, "default")
    stale = {**first, "metadata": {**first["metadata"], "labels": {"v": "stale"}}}
    with pytest.raises(errors.Conflict) as info:
        await api.replace(PODS, stale)
    assert info.value.code == 409 and info.value.reason == "Conflict"
    assert (await api.get(PODS, f"cas-{run_id}", "default")) == fresh
    await api.delete(PODS, f"cas-{run_id}", "default")


async def test_invalid_pod_is_refused_with_field_paths_and_not_stored(api: ApiClient, run_id: str) -> None:
    bad = pod(f"bad-{run_id}")
    bad["spec"]["containers"][0].pop("image")
    bad["spec"]["restartPolicy"] = "Sometimes"
    with pytest.raises(errors.Invalid) as info:
        await api.create(PODS, bad, "default")
    fields = {c["field"] for c in info.value.causes}
    assert {"spec.containers[0].image", "spec.restartPolicy"} <= fields
    assert info.value.code == 422
    with pytest.raises(errors.NotFound):
        await api.get(PODS, f"bad-{run_id}", "default")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        pytest.param(lambda p: p["metadata"].__setitem__("name", "Not_A_Name"), "metadata.name", id="bad-name"),
        pytest.param(lambda p: p["metadata"].pop("name"), "metadata.name", id="no-name"),
        pytest.param(lambda p: p["spec"]["containers"].append({"name": "main", "image": "x"}),
                     "spec.containers[1].name", id="duplicate-container"),
        pytest.param(lambda p: p["spec"]["containers"][0].__setitem__("ports", [{"containerPort": 70000}]),
                     "spec.containers[0].ports[0].containerPort", id="port-range"),
    ],
)
async def test_bad_input_gets_invalid_with_the_field(api: ApiClient, run_id: str, mutate: Any, field: str) -> None:
    body = pod(f"badin-{run_id}")
    mutate(body)
    with pytest.raises(errors.Invalid) as info:
        await api.create(PODS, body, "default")
    assert field in {c["field"] for c in info.value.causes}, info.value.causes
    listed = await api.list(PODS, "default", label_selector="app=badin")
    assert listed["items"] == []


async def test_a_value_of_the_wrong_type_is_a_bad_request(api: ApiClient, run_id: str) -> None:
    """Kubernetes' decoder refuses it before validation: 400, in encoding/json's words."""
    body = pod(f"badtype-{run_id}")
    body["spec"]["containers"] = 5
    with pytest.raises(errors.BadRequest) as info:
        await api.create(PODS, body, "default")
    assert info.value.message == ('Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number '
                                  "into Go struct field PodSpec.spec.containers of type []v1.Container")


async def test_strict_field_validation_rejects_unknown_fields(api: ApiClient, run_id: str) -> None:
    body = pod(f"strict-{run_id}")
    body["spec"]["containers"][0]["imagee"] = "typo"
    with pytest.raises(errors.BadRequest) as info:
        await api.create(PODS, body, "default", params={"fieldValidation": "Strict"})
    assert "spec.containers[0].imagee" in info.value.message
    # Without Strict the unknown field is dropped, as Kubernetes does.
    created = await api.create(PODS, body, "default")
    assert "imagee" not in created["spec"]["containers"][0]
    await api.delete(PODS, f"strict-{run_id}", "default")


async def test_create_in_missing_namespace_is_not_found(api: ApiClient, run_id: str) -> None:
    with pytest.raises(errors.NotFound) as info:
        await api.create(PODS, pod(f"nons-{run_id}"), f"nowhere-{run_id}")
    assert "namespaces" in info.value.message


async def test_concurrent_creates_of_one_name_have_one_winner(api: ApiClient, run_id: str) -> None:
    name = f"race-{run_id}"
    results = await asyncio.gather(*(api.create(PODS, pod(name), "default") for _ in range(8)),
                                   return_exceptions=True)
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, errors.AlreadyExists)]
    assert len(winners) == 1 and len(losers) == 7
    await api.delete(PODS, name, "default")


async def test_label_field_selectors_and_pagination(api: ApiClient, run_id: str) -> None:
    ns = f"page-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": ns}})
    for i in range(7):
        body = pod(f"p{i}")
        body["metadata"]["labels"] = {"group": "even" if i % 2 == 0 else "odd"}
        await api.create(PODS, body, ns)
    even = await api.list(PODS, ns, label_selector="group=even")
    assert sorted(p["metadata"]["name"] for p in even["items"]) == ["p0", "p2", "p4", "p6"]
    not_even = await api.list(PODS, ns, label_selector="group notin (even)")
    assert len(not_even["items"]) == 3
    by_name = await api.list(PODS, ns, field_selector="metadata.name=p3")
    assert [p["metadata"]["name"] for p in by_name["items"]] == ["p3"]

    seen, token, pages = [], None, 0
    while True:
        page = await api.list(PODS, ns, limit=3, continue_token=token)
        seen += [p["metadata"]["name"] for p in page["items"]]
        pages += 1
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"p{i}" for i in range(7)] and pages == 3

    with pytest.raises(errors.BadRequest):
        await api.list(PODS, ns, label_selector="a in (")


async def test_binding_sets_node_once(api: ApiClient, run_id: str) -> None:
    name = f"bind-{run_id}"
    await api.create(PODS, pod(name), "default")
    await api.bind("default", name, "node-a")
    bound = await api.get(PODS, name, "default")
    assert bound["spec"]["nodeName"] == "node-a"
    assert {"type": "PodScheduled", "status": "True"}.items() <= bound["status"]["conditions"][0].items()
    with pytest.raises(errors.Conflict):
        await api.bind("default", name, "node-b")
    await api.delete(PODS, name, "default", grace_period_seconds=0)


async def test_scheduled_pod_deletion_is_graceful(api: ApiClient, run_id: str) -> None:
    name = f"grace-{run_id}"
    await api.create(PODS, pod(name), "default")
    await api.bind("default", name, "node-a")
    marked = await api.delete(PODS, name, "default")
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert (await api.get(PODS, name, "default"))["metadata"]["deletionTimestamp"]
    await api.delete(PODS, name, "default", grace_period_seconds=0)  # what the kubelet sends when done
    with pytest.raises(errors.NotFound):
        await api.get(PODS, name, "default")


async def test_status_subresource_only_changes_status(api: ApiClient, run_id: str) -> None:
    name = f"status-{run_id}"
    created = await api.create(PODS, pod(name), "default")
    changed = {**created, "status": {"phase": "Running", "podIP": "10.0.0.9"},
               "metadata": {**created["metadata"], "labels": {"ignored": "yes"}}}
    after = await api.replace_status(PODS, changed)
    assert after["status"]["phase"] == "Running" and after["status"]["podIP"] == "10.0.0.9"
    assert "ignored" not in after["metadata"].get("labels", {})
    # ...and a main-resource update cannot change the status.
    after["status"] = {"phase": "Failed"}
    again = await api.replace(PODS, after)
    assert again["status"]["phase"] == "Running"
    await api.delete(PODS, name, "default")


async def test_watch_delivers_changes_in_order_and_resumes(api: ApiClient, run_id: str) -> None:
    ns = f"watch-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": ns}})
    start = (await api.list(PODS, ns))["metadata"]["resourceVersion"]
    events: list[tuple[str, str, str]] = []

    async def consume(from_rv: str, count: int) -> None:
        async for kind, obj in api.watch(PODS, ns, resource_version=from_rv, timeout_seconds=20):
            if kind == "BOOKMARK":
                continue
            events.append((kind, obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))
            if len(events) >= count:
                return

    watcher = asyncio.create_task(consume(start, 4))
    await asyncio.sleep(0.2)
    await api.create(PODS, pod("w1"), ns)
    await api.patch(PODS, "w1", {"metadata": {"labels": {"x": "1"}}}, ns)
    await api.create(PODS, pod("w2"), ns)
    await api.delete(PODS, "w1", ns)
    await asyncio.wait_for(watcher, 10)
    assert [(k, n) for k, n, _ in events] == [("ADDED", "w1"), ("MODIFIED", "w1"), ("ADDED", "w2"), ("DELETED", "w1")]
    revisions = [int(rv) for _, _, rv in events]
    assert revisions == sorted(revisions) and len(set(revisions)) == 4

    # Resuming from the second event's resourceVersion replays exactly the later ones.
    resumed: list[tuple[str, str]] = []
    async for kind, obj in api.watch(PODS, ns, resource_version=events[1][2], timeout_seconds=2):
        if kind != "BOOKMARK":
            resumed.append((kind, obj["metadata"]["name"]))
    assert resumed == [("ADDED", "w2"), ("DELETED", "w1")]


async def test_watch_without_resource_version_starts_with_existing_objects(api: ApiClient, run_id: str) -> None:
    ns = f"wlist-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": ns}})
    await api.create(PODS, pod("existing"), ns)
    first = None
    async for kind, obj in api.watch(PODS, ns, timeout_seconds=2):
        first = (kind, obj["metadata"]["name"])
        break
    assert first == ("ADDED", "existing")


async def test_watch_with_selector_sees_objects_enter_and_leave(api: ApiClient, run_id: str) -> None:
    ns = f"wsel-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": ns}})
    rv = (await api.list(PODS, ns))["metadata"]["resourceVersion"]
    await api.create(PODS, pod("sel"), ns)
    await api.bind(ns, "sel", "node-x")  # now matches spec.nodeName=node-x
    await api.patch(PODS, "sel", {"metadata": {"labels": {"k": "v"}}}, ns)
    await api.delete(PODS, "sel", ns, grace_period_seconds=0)
    seen = []
    async for kind, _obj in api.watch(PODS, ns, resource_version=rv, field_selector="spec.nodeName=node-x",
                                     timeout_seconds=2):
        if kind != "BOOKMARK":
            seen.append(kind)
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


async def test_watch_beyond_the_cache_window_falls_back_to_etcd_then_gone_when_compacted(
    pki: TestPKI, etcd_url: str, workdir: Path, run_id: str
) -> None:
    small = start_apiserver(pki, etcd_url, workdir / "logs", name="apiserver-small-cache",
                            extra=["--watch-cache-size", "3"])
    ns = f"window-{run_id}"
    try:
        async with small.api() as api:
            await api.create(NAMESPACES, {"metadata": {"name": ns}})
            start = (await api.list(PODS, ns))["metadata"]["resourceVersion"]
            for i in range(6):
                await api.create(PODS, pod(f"old{i}"), ns)
            names = []
            async for kind, obj in api.watch(PODS, ns, resource_version=start, timeout_seconds=2):
                if kind == "ADDED":
                    names.append(obj["metadata"]["name"])
                if len(names) == 6:
                    break
            assert names == [f"old{i}" for i in range(6)]  # all six, though the cache holds only three

            etcd = aetcd.Client(host="127.0.0.1", port=int(etcd_url.rsplit(":", 1)[1]))
            await etcd.connect()
            await etcd.compact(int((await api.list(PODS, ns))["metadata"]["resourceVersion"]))
            await etcd.close()
            with pytest.raises(errors.Gone):
                async for _ in api.watch(PODS, ns, resource_version=start, timeout_seconds=2):
                    pass
    finally:
        small.stop()


async def test_errors_are_status_objects(apiserver: Apiserver) -> None:
    async with apiserver.async_http() as http:
        missing = await http.get("/api/v1/namespaces/default/pods/no-such-pod")
        assert missing.status_code == 404
        assert missing.json() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'pods "no-such-pod" not found', "reason": "NotFound",
            "details": {"name": "no-such-pod", "kind": "pods"}, "code": 404,
        }
        garbage = await http.post("/api/v1/namespaces/default/pods", content=b"{not json",
                                  headers={"Content-Type": "application/json"})
        assert garbage.status_code == 400 and garbage.json()["reason"] == "BadRequest"
        unknown = await http.get("/api/v1/widgets")
        assert unknown.status_code == 404 and unknown.json()["kind"] == "Status"


async def test_discovery_and_version(apiserver: Apiserver) -> None:
    async with apiserver.async_http() as http:
        assert (await http.get("/api")).json()["versions"] == ["v1"]
        core = (await http.get("/api/v1")).json()
        names = {r["name"] for r in core["resources"]}
        assert {"pods", "pods/status", "pods/binding", "nodes", "namespaces"} <= names
        assert (await http.get("/version")).json()["minor"] == "36"
        groups = {g["name"] for g in (await http.get("/apis")).json()["groups"]}
        assert "coordination.k8s.io" in groups


async def test_nodes_are_cluster_scoped(api: ApiClient, run_id: str) -> None:
    node = {"metadata": {"name": f"scoped-{run_id}"},
            "status": {"capacity": {"cpu": "1"}, "conditions": [{"type": "Ready", "status": "True"}]}}
    created = await api.create(NODES, node)
    assert "namespace" not in created["metadata"]
    assert created["status"]["capacity"] == {"cpu": "1"}
    await api.delete(NODES, f"scoped-{run_id}")


async def test_finalizers_hold_deletion_and_terminating_namespaces_refuse_content(
    api: ApiClient, run_id: str
) -> None:
    ns = f"term-{run_id}"
    created = await api.create(NAMESPACES, {"metadata": {"name": ns, "finalizers": ["example.com/hold"]}})
    assert created["spec"]["finalizers"] == ["kubernetes"]
    assert created["metadata"]["labels"]["kubernetes.io/metadata.name"] == ns
    await api.create(PODS, pod("inside"), ns)
    marked = await api.delete(NAMESPACES, ns)
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["status"]["phase"] == "Terminating"
    with pytest.raises(errors.Forbidden) as info:
        await api.create(PODS, pod("late"), ns)
    assert "being terminated" in info.value.message
    with pytest.raises(errors.Forbidden):  # no new finalizers on an object being deleted
        await api.patch(NAMESPACES, ns, {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}})
    await api.patch(NAMESPACES, ns, {"metadata": {"finalizers": None}})
    held = await api.get(NAMESPACES, ns)  # the spec's `kubernetes` finalizer still holds it
    assert held["spec"]["finalizers"] == ["kubernetes"]
    await api.patch(NAMESPACES, ns, {"spec": {"finalizers": []}})  # a plain update cannot drop it
    assert (await api.get(NAMESPACES, ns))["spec"]["finalizers"] == ["kubernetes"]
    await api.replace(NAMESPACES, {**held, "spec": {"finalizers": []}}, "finalize")  # the last one goes: so does it
    with pytest.raises(errors.NotFound):
        await api.get(NAMESPACES, ns)


async def test_replies_are_shaped_as_kubernetes_writes_them(apiserver: Apiserver) -> None:
    async with apiserver.async_http() as http:
        for path in ("/api/", "/apis/", "/api/v1/", "/apis/apps/", "/apis/apps/v1/"):
            resp = await http.get(path)
            assert resp.status_code == 200, path
        missing = await http.get("/api/v1/namespaces/default/pods/nope")
        assert missing.text.endswith("}\n")  # Go's json.Encoder ends a document with a newline
        assert list(missing.json()) == ["kind", "apiVersion", "metadata", "status", "message", "reason", "details",
                                        "code"]
