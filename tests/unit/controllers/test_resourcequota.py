"""The resource-quota controller alone (fake client, caches filled by hand): status.hard from spec.hard and
status.used recomputed from what exists, usage given back after deletions, no write when nothing changed, which
events wake it (spec changes, deletions, usage changes; not its own status writes, nor creations), count/ of
other kinds followed on demand, and the RBAC it runs under. The real path: tests/e2e/test_admission_policies.py."""

from __future__ import annotations

import asyncio
from typing import Any

from controllers.resourcequota import RESOURCEQUOTAS, ResourceQuotaController
from kube.informer import object_key
from kube.resources import CONFIGMAPS, DEPLOYMENTS, PODS, SERVICES
from tests.unit.controllers.batch_fakes import cache, context

Obj = dict[str, Any]


def make_quota(hard: dict[str, str], status: Obj | None = None) -> Obj:
    return {"metadata": {"name": "q", "namespace": "a", "resourceVersion": "1"}, "spec": {"hard": hard},
            "status": status or {}}


def pod(name: str, cpu: str = "100m", phase: str = "Running", namespace: str = "a") -> Obj:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": "2"},
            "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": phase}}


def setup(q: Obj, *objs: tuple[Any, Obj]) -> tuple[ResourceQuotaController, Any]:
    ctx, client, _ = context()
    controller = ResourceQuotaController(ctx)
    stored = client.put(RESOURCEQUOTAS, q)
    for rt, obj in objs:
        cache(ctx.informers.informer(rt), obj)
    for informer in ctx.informers._informers.values():
        informer.synced.set()
    cache(controller.quotas, stored)
    return controller, client


def sync(controller: ResourceQuotaController, client: Any) -> Obj:
    asyncio.run(controller.sync("a/q"))
    current = client.objects[("resourcequotas", "a", "q")]
    cache(controller.quotas, current)
    return current


def test_status_is_spec_hard_and_what_exists() -> None:
    controller, client = setup(make_quota({"pods": "5", "requests.cpu": "2", "services": "3", "configmaps": "2"}),
                               (PODS, pod("a", "250m")), (PODS, pod("b", "1")), (PODS, pod("done", "1", "Succeeded")),
                               (PODS, pod("elsewhere", "1", namespace="b")),
                               (SERVICES, {"metadata": {"name": "s", "namespace": "a"}, "spec": {"type": "ClusterIP"}}))
    status = sync(controller, client)["status"]
    assert status == {"hard": {"pods": "5", "requests.cpu": "2", "services": "3", "configmaps": "2"},
                      "used": {"pods": "2", "requests.cpu": "1250m", "services": "1", "configmaps": "0"}}
    writes = len(client.status_writes)
    sync(controller, client)
    assert len(client.status_writes) == writes  # nothing changed: nothing written


def test_usage_freed_by_a_deletion_is_given_back() -> None:
    computed = {"hard": {"pods": "2"}, "used": {"pods": "2"}}
    controller, client = setup(make_quota({"pods": "2"}, computed), (PODS, pod("a")), (PODS, pod("b")))
    keys: list[str] = []
    controller.enqueue = lambda obj: keys.append(object_key(obj))  # type: ignore[method-assign]
    controller.ctx.informers.informer(PODS)._remove("a/b")
    assert keys == ["a/q"]
    assert sync(controller, client)["status"]["used"] == {"pods": "1"}


def test_what_wakes_the_controller() -> None:
    controller, _ = setup(make_quota({"pods": "2"}))
    keys: list[str] = []
    controller.enqueue = lambda obj: keys.append(object_key(obj))  # type: ignore[method-assign]
    q = controller.quotas.get("a/q")
    assert q is not None
    cache(controller.quotas, {**q, "metadata": {**q["metadata"], "resourceVersion": "7"},
                              "status": {"hard": {"pods": "2"}, "used": {"pods": "1"}}})
    assert keys == []  # a status write (its own, or admission's charge)
    cache(controller.quotas, {**q, "metadata": {**q["metadata"], "resourceVersion": "8"},
                              "spec": {"hard": {"pods": "3"}}})
    assert keys == ["a/q"]
    pods = controller.ctx.informers.informer(PODS)
    cache(pods, pod("new"))
    assert keys == ["a/q"]  # creations were charged by admission
    cache(pods, {**pod("new"), "metadata": {**pod("new")["metadata"], "resourceVersion": "9", "labels": {"x": "y"}}})
    assert keys == ["a/q"]  # no usage change
    cache(pods, {**pod("new", phase="Failed"), "metadata": {**pod("new")["metadata"], "resourceVersion": "10"}})
    assert keys == ["a/q", "a/q"]
    cache(controller.ctx.informers.informer(CONFIGMAPS), {"metadata": {"name": "c", "namespace": "b"}})
    controller.ctx.informers.informer(CONFIGMAPS)._remove("b/c")
    assert keys == ["a/q", "a/q"]  # another namespace's


def test_counts_of_other_kinds_are_followed_from_the_first_quota_that_names_them() -> None:
    controller, client = setup(make_quota({"count/deployments.apps": "3", "count/widgets.example.com": "1"}))
    assert DEPLOYMENTS not in controller.ctx.informers._informers
    deployments = controller.ctx.informers.informer(DEPLOYMENTS)
    cache(deployments, {"metadata": {"name": "web", "namespace": "a"}, "spec": {}})
    deployments.synced.set()
    assert sync(controller, client)["status"]["used"] == {"count/deployments.apps": "1"}


def test_a_quota_deleted_meanwhile_is_done() -> None:
    controller, client = setup(make_quota({"pods": "1"}))
    del client.objects[("resourcequotas", "a", "q")]
    controller.quotas._remove("a/q")
    asyncio.run(controller.sync("a/q"))
    assert client.status_writes == []


def test_the_controller_manager_may_make_its_calls_and_no_write_more() -> None:
    from tests.unit.apiserver.test_bootstrappolicy import CONTROLLER_MANAGER, authorizer, can

    a = authorizer()
    assert can(a, CONTROLLER_MANAGER, "update", "resourcequotas", "a", "q", sub="status")
    for verb, group, resource in [("list", "", "resourcequotas"), ("watch", "", "pods"),
                                  ("list", "apps", "deployments"), ("watch", "example.com", "widgets")]:
        assert can(a, CONTROLLER_MANAGER, verb, resource, group=group), (verb, resource)
    assert not can(a, CONTROLLER_MANAGER, "update", "resourcequotas", "a", "q")  # only their status
