"""The official `kubernetes` Python client against kubelite: typed CRUD, patch, watch streams, errors.
The client validates responses against its OpenAPI types, so this also checks object shapes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def configuration(kubeconfig: Path) -> client.Configuration:
    """The client configured from the admin's kubeconfig, as its users do (`config.load_kube_config`)."""
    configured = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configured)
    return configured


@pytest.fixture
def core(kubeconfig: Path) -> client.CoreV1Api:
    return client.CoreV1Api(client.ApiClient(configuration(kubeconfig)))


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


@pytest.fixture
def apps(kubeconfig: Path) -> client.AppsV1Api:
    return client.AppsV1Api(client.ApiClient(configuration(kubeconfig)))


def test_deployment_service_configmap_crud_and_scale(core: client.CoreV1Api, apps: client.AppsV1Api,
                                                     namespace: str) -> None:
    labels = {"app": "web"}
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="busybox:latest")]))
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(replicas=2, selector=client.V1LabelSelector(match_labels=labels),
                                     template=template))
    created = apps.create_namespaced_deployment(namespace, deployment)
    assert created.spec.strategy.type == "RollingUpdate"  # server-side defaults come back typed
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    assert created.spec.revision_history_limit == 10

    scale = apps.read_namespaced_deployment_scale("web", namespace)
    assert scale.spec.replicas == 2 and scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 4
    assert [d.metadata.name for d in apps.list_namespaced_deployment(namespace).items] == ["web"]

    service = client.V1Service(metadata=client.V1ObjectMeta(name="web"), spec=client.V1ServiceSpec(
        selector=labels, ports=[client.V1ServicePort(port=80, target_port=8080, name="http")]))
    svc = core.create_namespaced_service(namespace, service)
    assert svc.spec.type == "ClusterIP" and svc.spec.ports[0].protocol == "TCP"
    patched = core.patch_namespaced_service("web", namespace, {"metadata": {"labels": {"tier": "front"}}})
    assert patched.metadata.labels == {"tier": "front"}

    cm = core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="cfg"), data={"key": "value"}))
    assert cm.data == {"key": "value"}
    cm.data["other"] = "x"
    replaced = core.replace_namespaced_config_map("cfg", namespace, cm)
    assert replaced.data == {"key": "value", "other": "x"}
    with pytest.raises(ApiException) as info:  # stale resourceVersion: 409
        core.replace_namespaced_config_map("cfg", namespace, cm)
    assert info.value.status == 409

    for delete in (lambda: apps.delete_namespaced_deployment("web", namespace),
                   lambda: core.delete_namespaced_service("web", namespace),
                   lambda: core.delete_namespaced_config_map("cfg", namespace)):
        delete()
    assert apps.list_namespaced_deployment(namespace).items == []
    assert core.list_namespaced_config_map(namespace).items == []
