"""Node objects carry every NodeSystemInfo field, as Go serialises them (typed clients require them)."""

from apiserver.registry import strategy_for
from kube.resources import NODES


def test_node_info_is_completed_with_empty_strings() -> None:
    decoded, _ = strategy_for(NODES).decode({"metadata": {"name": "n"}, "status": {
        "nodeInfo": {"kubeletVersion": "v1.36.0-kubelite"}}})
    info = decoded["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.36.0-kubelite"
    assert info["bootID"] == "" and info["systemUUID"] == "" and info["kubeProxyVersion"] == ""


def test_node_without_status_gets_none_invented() -> None:
    decoded, _ = strategy_for(NODES).decode({"metadata": {"name": "n"}})
    assert "status" not in decoded
