"""Models: Kubernetes JSON names, omitted empties, unknown fields found by path."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kube.models import Node, Pod, camel, prune_unknown_fields, unknown_fields


@pytest.mark.parametrize(
    ("snake", "json_name"),
    [("container_id", "containerID"), ("pod_ips", "podIPs"), ("host_pid", "hostPID"), ("system_uuid", "systemUUID"),
     ("api_version", "apiVersion"), ("uid", "uid"), ("set_hostname_as_fqdn", "setHostnameAsFQDN")],
)
def test_camel(snake: str, json_name: str) -> None:
    assert camel(snake) == json_name


def test_round_trip_keeps_kubernetes_names_and_omits_empties() -> None:
    data = {"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i"}], "hostPID": True},
            "status": {"podIP": "10.0.0.1", "containerStatuses": [
                {"name": "c", "ready": True, "restartCount": 0, "image": "i", "imageID": "", "containerID": "x"}]}}
    assert Pod.from_dict(data).to_dict() == data


def test_unknown_fields_are_found_and_pruned() -> None:
    pod = Pod.from_dict({"metadata": {"name": "p", "bogus": 1},
                         "spec": {"containers": [{"name": "c", "image": "i", "imagee": "x"}]}})
    assert unknown_fields(pod) == ["metadata.bogus", "spec.containers[0].imagee"]
    prune_unknown_fields(pod)
    assert unknown_fields(pod) == []
    assert "imagee" not in pod.to_dict()["spec"]["containers"][0]


def test_labels_are_not_mistaken_for_unknown_fields() -> None:
    node = Node.from_dict({"metadata": {"name": "n", "labels": {"anything": "goes"}},
                           "status": {"capacity": {"cpu": "2", "memory": "1Gi"}}})
    assert unknown_fields(node) == []


def test_type_errors_and_bad_quantities_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Pod.from_dict({"spec": {"containers": 5}})
    with pytest.raises(ValidationError):
        Pod.from_dict({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "lots"}}}]}})
