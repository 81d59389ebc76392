"""The columns `kubectl get` prints for Ingresses, IngressClasses, NetworkPolicies and CSIStorageCapacities, and
the wide ones of Events (printers.go's printIngress, printIngressClass, printNetworkPolicy,
printCSIStorageCapacity, printEvent)."""

from __future__ import annotations

from typing import Any

from kube import printers, timeutil


def cells(kind: str, obj: dict[str, Any], wide: bool = False) -> dict[str, Any]:
    columns = [c for c in printers.columns_for(kind) if wide or c.priority == 0]
    return {c.name: c.cell({"metadata": {"name": "x", "creationTimestamp": timeutil.now()}, **obj}) for c in columns}


def test_ingress_columns() -> None:
    rules = [{"host": f"h{i}.example.com"} for i in range(5)]
    found = cells("Ingress", {"spec": {"ingressClassName": "nginx", "rules": rules, "tls": [{}]},
                              "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example"},
                                                                      {"ip": "10.0.0.2"}]}}})
    assert list(found) == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert found["Class"] == "nginx"
    assert found["Hosts"] == "h0.example.com,h1.example.com,h2.example.com + 2 more..."
    assert found["Address"] == "10.0.0.2,lb.example"
    assert found["Ports"] == "80, 443"
    bare = cells("Ingress", {"spec": {"rules": [{}]}, "status": {"loadBalancer": {}}})
    assert (bare["Class"], bare["Hosts"], bare["Address"], bare["Ports"]) == ("<none>", "*", "", "80")


def test_ingress_class_network_policy_and_capacity_columns() -> None:
    found = cells("IngressClass", {"spec": {"controller": "k8s.io/ingress-nginx", "parameters": {
        "apiGroup": "k8s.example.com", "kind": "Params", "name": "p", "scope": "Cluster"}}})
    assert (found["Controller"], found["Parameters"]) == ("k8s.io/ingress-nginx", "Params.k8s.example.com/p")
    assert cells("IngressClass", {"spec": {"controller": "a.io/b"}})["Parameters"] == "<none>"
    assert cells("NetworkPolicy", {"spec": {"podSelector": {}}})["Pod-Selector"] == "<none>"
    assert cells("NetworkPolicy", {"spec": {"podSelector": {"matchLabels": {"app": "db"}}}})["Pod-Selector"] == \
        "app=db"
    capacity = cells("CSIStorageCapacity", {"storageClassName": "fast", "capacity": "1Gi"})
    assert capacity == {"Name": "x", "StorageClassName": "fast", "Capacity": "1Gi"}  # no age, as Kubernetes
    assert cells("CSIStorageCapacity", {"storageClassName": "fast"})["Capacity"] == "<unset>"


def test_event_columns_wide_and_last_seen() -> None:
    event = {"involvedObject": {"kind": "Node", "name": ""}, "reason": "Starting", "type": "Normal",
             "message": " started \n", "source": {"component": "kubelet", "host": "n1"}}
    narrow = cells("Event", event)
    assert list(narrow) == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert (narrow["Last Seen"], narrow["Object"], narrow["Message"]) == ("<unknown>", "node", "started")
    wide = cells("Event", event, wide=True)
    assert (wide["Source"], wide["Count"], wide["First Seen"], wide["Name"]) == ("kubelet, n1", 1, "<unknown>", "x")
    seen = cells("Event", {**event, "firstTimestamp": timeutil.now(), "series": {"count": 4, "lastObservedTime":
                                                                                 timeutil.now()}}, wide=True)
    assert seen["Count"] == 4 and seen["Last Seen"] != "<unknown>"
