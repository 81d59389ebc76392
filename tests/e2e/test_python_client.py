"""The official `kubernetes` Python client against kubelite: typed CRUD, patch, watch streams, errors.
The client validates responses against its OpenAPI types, so this also checks object shapes."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


@pytest.fixture
def core(apiserver_url: str) -> client.CoreV1Api:
    config = client.Configuration()
    config.host = apiserver_url
    return client.CoreV1Api(client.ApiClient(config))


@pytest.fixture
def namespace(core: client.CoreV1Api, run_id: str) -> str:
    name = f"py-{run_id}-{time.time_ns() % 100000}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def make_pod(name: str) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": "py"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="main", image="busybox:latest",
                                                             command=["sleep", "3600"])]),
    )


def test_pod_crud_and_patch(core: client.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_pod(namespace, make_pod("one"))
    assert created.metadata.uid and created.status.phase == "Pending"
    assert created.spec.containers[0].image_pull_policy == "Always"

    got = core.read_namespaced_pod("one", namespace)
    assert got.metadata.resource_version == created.metadata.resource_version

    listed = core.list_namespaced_pod(namespace, label_selector="app=py")
    assert [p.metadata.name for p in listed.items] == ["one"]
    assert listed.metadata.resource_version

    patched = core.patch_namespaced_pod("one", namespace, {"metadata": {"labels": {"extra": "yes"}}})
    assert patched.metadata.labels == {"app": "py", "extra": "yes"}

    core.delete_namespaced_pod("one", namespace)
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod("one", namespace)
    assert info.value.status == 404


def test_invalid_pod_raises_422_with_field(core: client.CoreV1Api, namespace: str) -> None:
    pod = make_pod("bad")
    pod.spec.restart_policy = "Sometimes"
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod(namespace, pod)
    assert info.value.status == 422 and "spec.restartPolicy" in info.value.body


def test_watch_stream_sees_added_modified_deleted(core: client.CoreV1Api, namespace: str) -> None:
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        for event in w.stream(core.list_namespaced_pod, namespace, timeout_seconds=15):
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                w.stop()

    core.create_namespaced_pod(namespace, make_pod("before"))  # already there: arrives as a synthetic ADDED
    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(1.0)
    core.patch_namespaced_pod("before", namespace, {"metadata": {"labels": {"n": "1"}}})
    core.delete_namespaced_pod("before", namespace)
    thread.join(20)
    assert seen == [("ADDED", "before"), ("MODIFIED", "before"), ("DELETED", "before")]


def test_nodes_and_namespaces_deserialize(core: client.CoreV1Api, namespace: str) -> None:
    names = [n.metadata.name for n in core.list_namespace().items]
    assert namespace in names and "kube-system" in names
    core.list_node()  # must deserialize, whatever nodes other tests left
