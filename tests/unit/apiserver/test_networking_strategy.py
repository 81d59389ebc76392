"""networking.k8s.io/v1 and CSIStorageCapacity strategies, as Kubernetes' defaults.go, validation.go and registry
strategies take them: Ingress (pathType required, one backend kind, hosts, TLS, status reset and kept), IngressClass
(controller required, a domain-prefixed path, immutable; parameters' scope defaulted), NetworkPolicy (policyTypes from
egress presence, ports' protocol TCP, peers and ipBlocks), CSIStorageCapacity (immutable topology and class)."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.registry import strategy_for
from kube.resources import CSISTORAGECAPACITIES, INGRESSCLASSES, INGRESSES, NETWORKPOLICIES, ResourceType

META = {"name": "x", "namespace": "default"}


def decode(rt: ResourceType, body: dict[str, Any]) -> dict[str, Any]:
    obj, _ = strategy_for(rt).decode({"metadata": META if rt.namespaced else {"name": "x"}, **body})
    return obj


def causes(rt: ResourceType, body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in strategy_for(rt).validate(decode(rt, body))]


def backend(name: str = "web", **port: Any) -> dict[str, Any]:
    return {"service": {"name": name, "port": port or {"number": 80}}}


def ingress(*paths: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"spec": {"rules": [{"host": "a.example.com", "http": {"paths": list(paths)}}], **spec}}


def path(**fields: Any) -> dict[str, Any]:
    return {"path": "/", "pathType": "Prefix", "backend": backend(), **fields}


# ---------------------------------------------------------------- Ingress

def test_a_valid_ingress_is_stored_with_the_fields_go_always_writes() -> None:
    obj = decode(INGRESSES, {"spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Exact",
                                                                       "backend": {"service": {"name": "web"}}}]}}]}})
    assert obj["spec"]["rules"][0]["http"]["paths"][0]["backend"] == {"service": {"name": "web", "port": {}}}
    assert obj["status"] == {"loadBalancer": {}}
    assert causes(INGRESSES, ingress(path())) == []


def test_an_ingress_needs_rules_or_a_default_backend() -> None:
    assert causes(INGRESSES, {"spec": {}}) == [
        ("spec", "Invalid value: null: either `defaultBackend` or `rules` must be specified")]
    assert causes(INGRESSES, {"spec": {"defaultBackend": backend()}}) == []


@pytest.mark.parametrize(("item", "expected"), [
    pytest.param({"path": "/", "backend": backend()},
                 [("spec.rules[0].http.paths[0].pathType", "Required value: pathType must be specified")],
                 id="no-path-type"),
    pytest.param(path(pathType="Regex"),
                 [("spec.rules[0].http.paths[0].pathType",
                   'Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"')],
                 id="unknown-path-type"),
    pytest.param(path(path="api"), [("spec.rules[0].http.paths[0].path",
                                     'Invalid value: "api": must be an absolute path')], id="relative"),
    pytest.param(path(path="/a//b"), [("spec.rules[0].http.paths[0].path",
                                       "Invalid value: \"/a//b\": must not contain '//'")], id="double-slash"),
    pytest.param(path(path="/a/.."), [("spec.rules[0].http.paths[0].path",
                                       "Invalid value: \"/a/..\": cannot end with '/..'")], id="dot-dot"),
    pytest.param(path(pathType="ImplementationSpecific", path=""), [], id="implementation-specific-empty"),
    pytest.param(path(backend={}), [("spec.rules[0].http.paths[0].backend",
                                     'Invalid value: "": resource or service backend is required')], id="no-backend"),
    pytest.param(path(backend={**backend(), "resource": {"kind": "Bucket", "name": "b"}}),
                 [("spec.rules[0].http.paths[0].backend",
                   'Invalid value: "": cannot set both resource and service backends')], id="both-backends"),
    pytest.param(path(backend={"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}}), [],
                 id="resource-backend"),
    pytest.param(path(backend={"service": {"name": "web", "port": {"name": "http"}}}), [], id="named-port"),
    pytest.param(path(backend={"service": {"name": "web", "port": {"name": "http", "number": 80}}}),
                 [("spec.rules[0].http.paths[0].backend", 'Invalid value: "": cannot set both port name & port '
                                                          "number")], id="name-and-number"),
    pytest.param(path(backend={"service": {"name": "web", "port": {}}}),
                 [("spec.rules[0].http.paths[0].backend", "Required value: port name or number is required")],
                 id="no-port"),
    pytest.param(path(backend={"service": {"name": "Web", "port": {"number": 80}}}),
                 [("spec.rules[0].http.paths[0].backend.service.name",
                   "Invalid value: \"Web\": a DNS-1035 label must consist of lower case alphanumeric characters or "
                   "'-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',"
                   "  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")], id="service-name"),
    pytest.param(path(backend={"service": {"name": "web", "port": {"number": 70000}}}),
                 [("spec.rules[0].http.paths[0].backend.service.port.number",
                   "Invalid value: 70000: must be between 1 and 65535, inclusive")], id="port-range"),
])
def test_ingress_paths_and_backends(item: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert causes(INGRESSES, ingress(item)) == expected


def test_ingress_hosts_tls_and_class() -> None:
    assert causes(INGRESSES, {"spec": {"rules": [{"host": "*.example.com"}]}}) == []
    found = causes(INGRESSES, {"spec": {"rules": [{"host": "10.0.0.1"}, {"host": "a.*.com"}]}})
    assert found[0] == ("spec.rules[0].host", 'Invalid value: "10.0.0.1": must be a DNS name, not an IP address')
    assert found[1][0] == "spec.rules[1].host" and "wildcard DNS-1123 subdomain" in found[1][1]
    assert causes(INGRESSES, {"spec": {"rules": [{"http": {"paths": []}}]}}) == [
        ("spec.rules[0].http.paths", "Required value")]
    assert [f for f, _ in causes(INGRESSES, ingress(path(), tls=[{"hosts": ["A"], "secretName": "Bad_"}]))] == [
        "spec.tls[0].hosts[0]", "spec.tls[0].secretName"]
    annotated = {**ingress(path(), ingressClassName="nginx")}
    obj = decode(INGRESSES, annotated)
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "traefik"}
    assert [c["field"] for c in strategy_for(INGRESSES).validate(obj)] == ["annotations.kubernetes.io/ingress.class"]


def test_an_ingress_status_is_only_written_through_its_subresource() -> None:
    strategy = strategy_for(INGRESSES)
    assert strategy.status_subresource and strategy.tracks_generation
    created = decode(INGRESSES, {**ingress(path()), "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}})
    strategy.prepare_for_create(created)
    assert created["status"] == {"loadBalancer": {}}
    written = {**created, "status": {"loadBalancer": {"ingress": [{"ip": "nope"}, {"hostname": "10.1.1.1"}]}}}
    new = strategy.prepare_for_status_update(written, created)
    assert [c["field"] for c in strategy.validate_update(new, created)] == [
        "status.loadBalancer.ingress[0].ip", "status.loadBalancer.ingress[1].hostname"]


# ---------------------------------------------------------------- IngressClass

def test_an_ingress_class_names_its_controller_once_and_for_all() -> None:
    assert causes(INGRESSCLASSES, {"spec": {}}) == [("spec.controller", "Required value")]
    assert causes(INGRESSCLASSES, {"spec": {"controller": "nginx"}}) == [
        ("spec.controller", 'Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")')]
    assert causes(INGRESSCLASSES, {"spec": {"controller": "k8s.io/ingress-nginx"}}) == []
    assert causes(INGRESSCLASSES, {"spec": {"controller": "k8s.io/" + "x" * 250}})[0] == (
        "spec.controller", "Too long: must have at most 250 bytes")
    strategy = strategy_for(INGRESSCLASSES)
    old = decode(INGRESSCLASSES, {"spec": {"controller": "k8s.io/ingress-nginx"}})
    new = decode(INGRESSCLASSES, {"spec": {"controller": "example.com/other"}})
    assert [(c["field"], c["message"]) for c in strategy.validate_update(new, old)] == [
        ("spec.controller", 'Invalid value: "example.com/other": field is immutable')]


def test_ingress_class_parameters_default_to_cluster_scope() -> None:
    params = {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p"}
    obj = decode(INGRESSCLASSES, {"spec": {"controller": "k8s.io/x", "parameters": params}})
    assert obj["spec"]["parameters"]["scope"] == "Cluster"
    assert causes(INGRESSCLASSES, {"spec": {"controller": "k8s.io/x", "parameters": {**params,
                                                                                    "scope": "Namespace"}}}) == [
        ("spec.parameters.namespace", "Required value: `parameters.scope` is set to 'Namespace'")]
    assert causes(INGRESSCLASSES, {"spec": {"controller": "k8s.io/x", "parameters": {**params, "namespace": "a"}}}) \
        == [("spec.parameters.namespace", "Forbidden: `parameters.scope` is set to 'Cluster'")]
    assert causes(INGRESSCLASSES, {"spec": {"controller": "k8s.io/x", "parameters": {"kind": "a/b"}}}) == [
        ("spec.parameters.kind", "Invalid value: \"a/b\": may not contain '/'"), ("spec.parameters.name",
                                                                                  "Required value")]


# ---------------------------------------------------------------- NetworkPolicy

def test_policy_types_default_from_egress_presence_and_ports_to_tcp() -> None:
    deny = decode(NETWORKPOLICIES, {"spec": {}})
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    both = decode(NETWORKPOLICIES, {"spec": {"podSelector": {"matchLabels": {"app": "db"}},
                                             "ingress": [{"ports": [{"port": 5432}]}],
                                             "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}})
    assert both["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert both["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert both["spec"]["egress"][0]["ports"] == [{"protocol": "UDP", "port": 53}]
    explicit = decode(NETWORKPOLICIES, {"spec": {"egress": [{}], "policyTypes": ["Egress"]}})
    assert explicit["spec"]["policyTypes"] == ["Egress"]


@pytest.mark.parametrize(("spec", "expected"), [
    pytest.param({"ingress": [{"from": [{}]}]}, [("spec.ingress[0].from[0]", "Required value: must specify a peer")],
                 id="empty-peer"),
    pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]},
                 [("spec.ingress[0].from[0]", "Forbidden: may not specify both ipBlock and another peer")],
                 id="ipblock-and-selector"),
    pytest.param({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}]}, [],
                 id="ipblock"),
    pytest.param({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]}]},
                 [("spec.egress[0].to[0].ipBlock.except[0]",
                   'Invalid value: "192.168.0.0/16": must be a strict subset of `cidr`')], id="except-outside"),
    pytest.param({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]},
                 [("spec.egress[0].to[0].ipBlock.cidr", 'Invalid value: "10.0.0.0/33": must be a valid CIDR value, '
                                                        "(e.g. 10.9.8.0/24 or 2001:db8::/64)")], id="bad-cidr"),
    pytest.param({"egress": [{"to": [{"ipBlock": {}}]}]}, [("spec.egress[0].to[0].ipBlock.cidr", "Required value")],
                 id="no-cidr"),
    pytest.param({"ingress": [{"ports": [{"protocol": "ICMP"}]}]},
                 [("spec.ingress[0].ports[0].protocol",
                   'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"')], id="protocol"),
    pytest.param({"ingress": [{"ports": [{"port": 80, "endPort": 70}]}]},
                 [("spec.ingress[0].ports[0].endPort", "Invalid value: 70: must be greater than or equal to `port`")],
                 id="end-port-below"),
    pytest.param({"ingress": [{"ports": [{"port": "http", "endPort": 90}]}]},
                 [("spec.ingress[0].ports[0].endPort",
                   "Invalid value: 90: may not be specified when `port` is non-numeric")], id="end-port-named"),
    pytest.param({"ingress": [{"ports": [{"endPort": 90}]}]},
                 [("spec.ingress[0].ports[0].endPort",
                   "Invalid value: 90: may not be specified when `port` is not specified")], id="end-port-alone"),
    pytest.param({"ingress": [{"ports": [{"port": "Web--1"}]}]},
                 [("spec.ingress[0].ports[0].port", 'Invalid value: "Web--1": must contain only alpha-numeric '
                                                    "characters (a-z, 0-9), and hyphens (-)"),
                  ("spec.ingress[0].ports[0].port", 'Invalid value: "Web--1": must not contain consecutive hyphens')],
                 id="port-name"),
    pytest.param({"policyTypes": ["Ingress", "Sideways"]},
                 [("spec.policyTypes[1]", 'Unsupported value: "Sideways": supported values: "Ingress", "Egress"')],
                 id="policy-type"),
    pytest.param({"policyTypes": ["Ingress", "Egress", "Ingress"]},
                 [("spec.policyTypes", 'Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two '
                                       "policyTypes")], id="three-types"),
    pytest.param({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}},
                 [("spec.podSelector.matchExpressions[0].operator",
                   'Unsupported value: "Near": supported values: "In", "NotIn", "Exists", "DoesNotExist"')],
                 id="selector"),
])
def test_network_policy_validation(spec: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert causes(NETWORKPOLICIES, {"spec": spec}) == expected


# ---------------------------------------------------------------- CSIStorageCapacity

def test_csi_storage_capacity() -> None:
    body = {"storageClassName": "fast", "nodeTopology": {"matchLabels": {"zone": "a"}}, "capacity": "1024Mi",
            "maximumVolumeSize": "2000000000"}
    obj = decode(CSISTORAGECAPACITIES, body)
    assert (obj["capacity"], obj["maximumVolumeSize"]) == ("1Gi", "2G")
    assert causes(CSISTORAGECAPACITIES, body) == []
    assert [f for f, _ in causes(CSISTORAGECAPACITIES, {})] == ["storageClassName"]
    assert decode(CSISTORAGECAPACITIES, {})["storageClassName"] == ""
    assert causes(CSISTORAGECAPACITIES, {**body, "capacity": "-1Gi"}) == [
        ("capacity", 'Invalid value: "-1Gi": must be greater than or equal to 0')]
    strategy = strategy_for(CSISTORAGECAPACITIES)
    moved = decode(CSISTORAGECAPACITIES, {**body, "storageClassName": "slow", "nodeTopology": {}, "capacity": "2Gi"})
    assert [c["field"] for c in strategy.validate_update(moved, obj)] == ["nodeTopology", "storageClassName"]
    assert strategy.validate_update(decode(CSISTORAGECAPACITIES, {**body, "capacity": "2Gi"}), obj) == []
