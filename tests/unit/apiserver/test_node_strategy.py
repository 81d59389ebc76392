"""Node objects carry every NodeSystemInfo field, as Go serialises them (typed clients require them)."""

from apiserver.registry import strategy_for
from kube.resources import NODES


def test_node_info_is_completed_with_empty_strings() -> None:
    decoded, _ = strategy_for(NODES).decode({"metadata": {"name": "n"}, "status": {
        "nodeInfo": {"kubeletVersion": "v1.36.0-kubelite"}}})
    info = decoded["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.36.0-kubelite"
    assert info["bootID"] == "" and info["systemUUID"] == "" and info["kubeProxyVersion"] == ""


def test_node_without_spec_or_status_has_them_as_go_writes_them() -> None:
    # NodeSpec, NodeStatus, NodeDaemonEndpoints, DaemonEndpoint and NodeSystemInfo are structs in
    # k8s.io/api core/v1: Kubernetes answers a create of a bare Node with all of them.
    decoded, _ = strategy_for(NODES).decode({"metadata": {"name": "n"}})
    assert decoded["spec"] == {}
    assert decoded["status"] == {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                                 "nodeInfo": dict.fromkeys(("machineID", "systemUUID", "bootID", "kernelVersion",
                                                            "osImage", "containerRuntimeVersion", "kubeletVersion",
                                                            "kubeProxyVersion", "operatingSystem", "architecture"),
                                                           "")}


def test_a_kubelets_endpoint_port_is_kept() -> None:
    decoded, _ = strategy_for(NODES).decode({"metadata": {"name": "n"}, "status": {
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}})
    assert decoded["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
