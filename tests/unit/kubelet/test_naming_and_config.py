"""Container names and labels, node-name sanitising, the restart decision, and the translation of a
container spec into Docker arguments (command/args, env sources, `$(VAR)`, limits, host ports)."""

from __future__ import annotations

from typing import Any

import pytest

from kube import quantity
from kubelet import naming
from kubelet.containers import ConfigError, container_config, env_references, expand, resolve_env, sandbox_config
from kubelet.node import machine_facts
from kubelet.pods import should_restart
from kubelet.runtime import RuntimeContainer, docker_time, split_image

POD: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "prod", "uid": "1234-abcd", "labels": {"app": "web"}},
    "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox",
                                                 "resources": {"limits": {"memory": "64Mi", "cpu": "250m"}}}]},
}


def test_docker_names_and_labels() -> None:
    assert naming.docker_name(POD, "c", 3) == "k8s_c_web_prod_1234-abcd_3"
    assert naming.docker_name(POD, naming.SANDBOX_NAME, 0) == "k8s_POD_web_prod_1234-abcd_0"
    labels = naming.container_labels("n1", POD, "c", 2)
    assert labels == {
        "io.kubelite.managed": "true", "io.kubelite.node.name": "n1", "io.kubelite.pod.uid": "1234-abcd",
        "io.kubelite.pod.namespace": "prod", "io.kubelite.pod.name": "web", "io.kubelite.container.name": "c",
        "io.kubelite.container.type": "container", "io.kubelite.container.attempt": "2",
    }
    assert naming.container_labels("n1", POD, "POD", 0)["io.kubelite.container.type"] == "sandbox"


@pytest.mark.parametrize(
    ("hostname", "node"),
    [("MyHost", "myhost"), ("host_01.Example.COM", "host-01.example.com"), ("--x--", "x"), ("", "localhost")],
)
def test_sanitize_node_name(hostname: str, node: str) -> None:
    assert naming.sanitize_node_name(hostname) == node


def _exited(code: int, **kw: Any) -> RuntimeContainer:
    return RuntimeContainer(id="x", name="c", pod_uid="u", pod_namespace="n", pod_name="p", attempt=0,
                            sandbox=False, state="exited", exit_code=code, **kw)


@pytest.mark.parametrize(
    ("policy", "code", "restart"),
    [("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 2, True),
     ("Never", 0, False), ("Never", 2, False)],
)
def test_should_restart(policy: str, code: int, restart: bool) -> None:
    assert should_restart(policy, _exited(code)) is restart


def test_expand_like_kubernetes() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)-$(C)", env) == "1-two-$(C)"
    assert expand("$$(A) costs $$5", env) == "$(A) costs $5"


def test_env_sources_and_references() -> None:
    container = {"name": "c", "env": [
        {"name": "A", "value": "x"},
        {"name": "B", "value": "$(A)y"},
        {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
    ]}
    env = resolve_env(POD, container, pod_ip="10.1.1.1", host_ip="192.0.2.1")
    assert env == {"A": "x", "B": "xy", "NAME": "web", "APP": "web", "IP": "10.1.1.1", "HOST": "192.0.2.1",
                   "NODE": "n1", "MEM": "64"}


def test_missing_config_map_is_a_config_error_unless_optional() -> None:
    ref = {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}
    with pytest.raises(ConfigError, match='configmap "cm" not found'):
        resolve_env(POD, {"name": "c", "env": [ref]}, pod_ip="", host_ip="")
    ref["valueFrom"]["configMapKeyRef"]["optional"] = True
    assert resolve_env(POD, {"name": "c", "env": [ref]}, pod_ip="", host_ip="") == {}


def test_env_from_config_maps_and_secrets() -> None:
    container = {"name": "c",
                 "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}, {"secretRef": {"name": "s"}}],
                 "env": [{"name": "ONE", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "a"}}},
                         {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                         {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "zz",
                                                                           "optional": True}}}]}
    assert env_references(container) == {("configmap", "cm"), ("secret", "s")}
    sources = {("configmap", "cm"): {"a": "1"}, ("secret", "s"): {"pw": "hunter2"}}
    env = resolve_env(POD, container, pod_ip="", host_ip="", sources=sources)
    assert env == {"CM_a": "1", "pw": "hunter2", "ONE": "1", "PW": "hunter2"}
    missing_key = {"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "b"}}}]}
    with pytest.raises(ConfigError, match="couldn't find key b in ConfigMap prod/cm"):
        resolve_env(POD, missing_key, pod_ip="", host_ip="", sources=sources)


def test_container_config_maps_command_args_limits_and_network() -> None:
    container = {**POD["spec"]["containers"][0], "command": ["sh", "-c"], "args": ["echo $(X)"],
                 "env": [{"name": "X", "value": "hi"}], "workingDir": "/tmp",
                 "resources": {"limits": {"memory": "64Mi", "cpu": "250m"}, "requests": {"cpu": "100m"}}}
    kw = container_config(POD, container, sandbox_id="sb", pod_ip="", host_ip="")
    assert kw["entrypoint"] == ["sh", "-c"] and kw["command"] == ["echo hi"]
    assert kw["environment"] == ["X=hi"] and kw["working_dir"] == "/tmp"
    assert kw["network_mode"] == "container:sb"
    assert kw["mem_limit"] == 64 * 2**20 == kw["memswap_limit"]
    assert kw["nano_cpus"] == 250_000_000 and kw["cpu_shares"] == 102


def test_command_alone_drops_the_image_args_and_args_alone_keep_the_entrypoint() -> None:
    only_command = container_config(POD, {"name": "c", "command": ["sleep", "1"]}, sandbox_id="s", pod_ip="",
                                    host_ip="")
    assert only_command["entrypoint"] == ["sleep", "1"] and only_command["command"] == []
    only_args = container_config(POD, {"name": "c", "args": ["x"]}, sandbox_id="s", pod_ip="", host_ip="")
    assert only_args["entrypoint"] is None and only_args["command"] == ["x"]


def test_sandbox_publishes_host_ports_and_uses_the_pod_name_as_hostname() -> None:
    pod = {"metadata": {"name": "p" * 70}, "spec": {"containers": [
        {"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]}]}}
    kw = sandbox_config(pod)
    assert kw["hostname"] == "p" * 63
    assert kw["ports"] == [(80, "tcp")] and kw["port_bindings"] == {"80/tcp": ("", 8080)}


def test_machine_facts_are_valid_quantities() -> None:
    capacity, info = machine_facts(110)
    for value in capacity.values():
        quantity.parse(value)  # the apiserver validates them the same way
    assert capacity["pods"] == "110" and int(capacity["cpu"]) >= 1
    assert info["operatingSystem"] == "linux" and info["architecture"]


def test_docker_times_and_image_names() -> None:
    assert docker_time("2026-01-01T10:00:00.123456789Z") == "2026-01-01T10:00:00Z"
    assert docker_time("0001-01-01T00:00:00Z") is None
    assert split_image("busybox") == ("busybox", "latest")
    assert split_image("localhost:5000/a/b:1.2") == ("localhost:5000/a/b", "1.2")
    assert split_image("localhost:5000/a") == ("localhost:5000/a", "latest")


def test_security_context_shares_and_namespaces() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n", "uid": "u"},
           "spec": {"shareProcessNamespace": True,
                    "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                                        "supplementalGroups": [4000]},
                    "containers": []}}
    container = {"name": "c", "image": "busybox", "securityContext": {
        "runAsUser": 1001, "readOnlyRootFilesystem": True, "privileged": True, "allowPrivilegeEscalation": False,
        "capabilities": {"add": ["CAP_NET_ADMIN"], "drop": ["ALL"]}},
        "resources": {"limits": {"cpu": "500m"}}}
    kwargs = container_config(pod, container, sandbox_id="sb", pod_ip="10.0.0.2", host_ip="192.0.2.1",
                              mounts=[{"Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True}])
    assert kwargs["user"] == "1001:3000" and kwargs["group_add"] == ["4000", "2000"]
    assert kwargs["read_only"] and kwargs["privileged"] and kwargs["security_opt"] == ["no-new-privileges"]
    assert kwargs["cap_add"] == ["NET_ADMIN"] and kwargs["cap_drop"] == ["ALL"]
    assert kwargs["cpu_shares"] == 512  # the limit stands in for the missing request
    assert kwargs["network_mode"] == kwargs["ipc_mode"] == kwargs["pid_mode"] == "container:sb"
    assert kwargs["mounts"] == [{"Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True}]
    best_effort = container_config(pod, {"name": "c", "image": "busybox"}, sandbox_id="sb", pod_ip="", host_ip="")
    assert best_effort["cpu_shares"] == 2


def test_sandbox_holds_ipc_and_host_network() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n", "uid": "u"},
           "spec": {"subdomain": "grp", "containers": [], "securityContext": {
               "sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 2048"}]}}}
    kwargs = sandbox_config(pod)
    assert kwargs["ipc_mode"] == "shareable" and kwargs["hostname"] == "p"
    assert kwargs["domainname"] == "grp.n.svc.cluster.local"
    assert kwargs["sysctls"] == {"net.ipv4.ip_local_port_range": "1024 2048"}
    host = sandbox_config({**pod, "spec": {"hostNetwork": True, "containers": []}})
    assert host["network_mode"] == "host" and "hostname" not in host


def test_env_with_service_variables_resources_and_prefixes() -> None:
    container = {"name": "c", "image": "busybox",
                 "env": [{"name": "WEB_SERVICE_HOST", "value": "mine"},
                         {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                                            "divisor": "1m"}}},
                         {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
                         {"name": "URL", "value": "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)"}],
                 "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"},
                             {"secretRef": {"name": "gone", "optional": True}}]}
    pod = {"metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": [container]}}
    env = resolve_env(pod, container, pod_ip="", host_ip="", sources={("configmap", "cm"): {"k": "v"}},
                      service_env={"WEB_SERVICE_HOST": "10.96.0.5", "WEB_SERVICE_PORT": "80"},
                      allocatable={"cpu": "2", "memory": "1Gi"})
    assert env["WEB_SERVICE_HOST"] == "mine" and env["URL"] == "http://mine:80"  # the pod's own env wins
    assert env["CPU"] == "2000" and env["MEM"] == str(2**30) and env["CM_k"] == "v"
