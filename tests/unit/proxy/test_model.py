"""From Services and Endpoints to service ports: which are programmed, which endpoints each gets (ready only,
matched by port name and protocol), affinity, Local policies, and what is reported as a problem."""

from __future__ import annotations

from typing import Any

from proxy.model import Endpoint, build

Obj = dict[str, Any]


def svc(name: str, **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.5", "ports": [{"port": 80}], **spec}}


def eps(name: str, *subsets: Obj) -> dict[str, Obj]:
    return {f"ns/{name}": {"metadata": {"name": name, "namespace": "ns"}, "subsets": list(subsets)}}


def test_ready_endpoints_only_matched_by_port_name_and_protocol() -> None:
    service = svc("web", ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                                {"name": "dns", "port": 53, "protocol": "UDP"}])
    endpoints = eps("web", {
        "addresses": [{"ip": "172.17.0.3", "nodeName": "n1"}, {"ip": "172.17.0.2", "nodeName": "n2"}],
        "notReadyAddresses": [{"ip": "172.17.0.9"}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "dns", "port": 5353, "protocol": "UDP"}],
    })
    ports, problems = build([service], endpoints)
    assert problems == []
    by_name = {p.port_name: p for p in ports}
    assert by_name["http"].endpoints == (Endpoint("172.17.0.2", 8080, "n2"), Endpoint("172.17.0.3", 8080, "n1"))
    assert [str(e) for e in by_name["dns"].endpoints] == ["172.17.0.2:5353", "172.17.0.3:5353"]
    assert by_name["http"].key == "ns/web:http"


def test_headless_external_name_and_unallocated_services_are_skipped() -> None:
    services = [svc("h", clusterIP="None"), svc("e", type="ExternalName", clusterIP=None, externalName="x.org"),
                svc("pending", clusterIP=None)]
    assert build(services, {}) == ([], [])


def test_node_ports_affinity_and_policies() -> None:
    service = svc("np", type="NodePort", ports=[{"port": 80, "nodePort": 30080}], sessionAffinity="ClientIP",
                  sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}, externalTrafficPolicy="Local",
                  internalTrafficPolicy="Cluster")
    endpoints = eps("np", {"addresses": [{"ip": "172.17.0.2", "nodeName": "n1"}, {"ip": "172.17.0.3",
                                                                                "nodeName": "n2"}],
                           "ports": [{"port": 8080, "protocol": "TCP"}]})
    [port], _ = build([service], endpoints)
    assert (port.node_port, port.affinity_seconds, port.key) == (30080, 60, "ns/np")
    assert len(port.cluster_endpoints("n1")) == 2
    assert port.external_endpoints("n1") == (Endpoint("172.17.0.2", 8080, "n1"),)


def test_node_port_of_a_cluster_ip_service_is_ignored() -> None:
    [port], _ = build([svc("c", ports=[{"port": 80, "nodePort": 30080}])], {})
    assert port.node_port is None


def test_bad_input_is_a_problem_not_a_crash() -> None:
    ports, problems = build([svc("v6", clusterIP="fd00::5"), svc("p", ports=[{"port": 80, "protocol": "ICMP"}])], {})
    assert ports == []
    assert [(p.name, p.reason) for p in problems] == [("v6", "UnsupportedClusterIP"), ("p", "UnsupportedProtocol")]
