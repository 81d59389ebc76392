"""networking.k8s.io/v1: Ingresses, IngressClasses and NetworkPolicies, defaulted and validated as Kubernetes'
pkg/apis/networking (v1/defaults.go, validation/validation.go) and pkg/registry/networking strategies do.

Served and stored only. Nothing here routes traffic: kubelite runs no ingress controller (an Ingress keeps the
`status.loadBalancer` a controller would write, empty until something writes it through `ingresses/status`) and
its proxy enforces no NetworkPolicy (every pod still reaches every pod), as a Kubernetes cluster behaves with no
ingress controller installed and a network plugin without policy support.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from apiserver.registry.workloads import validate_selector
from kube import errors
from kube.models import KubeModel
from kube.models import networking as models

__all__ = ["IngressClassStrategy", "IngressStrategy", "NetworkPolicyStrategy"]

Obj = dict[str, Any]
Causes = list[errors.Cause]

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
PROTOCOLS = ["TCP", "UDP", "SCTP"]
POLICY_TYPES = ["Ingress", "Egress"]
PARAMETER_SCOPES = ["Cluster", "Namespace"]
#: the annotation older Ingresses name their class with (kubernetes.io/ingress.class)
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
_MAX_CONTROLLER_LENGTH = 250
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_WILDCARD = re.compile(r"^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PORT_NAME_CHARS = re.compile(r"^[-a-z0-9]+$")
_HTTP_PATH = re.compile(r"^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")
_PATH_SEGMENT_FORBIDDEN = ("/", "%")


def _invalid_json(field: str, value: Any, detail: str) -> errors.Cause:
    """An Invalid cause whose value is a list or object, shown as Kubernetes shows it (JSON)."""
    return {"reason": "FieldValueInvalid", "field": field,
            "message": f"Invalid value: {json.dumps(value, separators=(',', ':'))}: {detail}"}


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _port_number(value: int, path: str) -> Causes:
    """IsValidPortNum."""
    return [] if 1 <= value <= 65535 else [v.invalid(path, value, "must be between 1 and 65535, inclusive")]


def _port_name(name: str, path: str) -> Causes:
    """IsValidPortName: an IANA service name."""
    messages = []
    if len(name) > 15:
        messages.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.match(name):
        messages.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", name):
        messages.append("must contain at least one letter (a-z)")
    if "--" in name:
        messages.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        messages.append("must not begin or end with a hyphen")
    return [v.invalid(path, name, m) for m in messages]


def _dns1035_label(name: str, path: str) -> Causes:
    """ValidateServiceName (NameIsDNS1035Label): what an Ingress backend may name."""
    if len(name) > 63:
        return [v.invalid(path, name, "must be no more than 63 characters")]
    if not _DNS1035.match(name):
        return [v.invalid(path, name, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                          "start with an alphabetic character, and end with an alphanumeric character (e.g. "
                          "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")]
    return []


def _host(host: str, path: str) -> Causes:
    """A rule's or TLS entry's host: a DNS subdomain, or a wildcard one (`*.example.com`)."""
    if "*" not in host:
        return v.dns1123_subdomain(host, path)
    if len(host) > 253:
        return [v.invalid(path, host, "must be no more than 253 characters")]
    if not _WILDCARD.match(host):
        return [v.invalid(path, host, "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                          "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end "
                          "with an alphanumeric character (e.g. '*.example.com', regex used for validation is "
                          "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
    return []


def _path_segment(value: str, path: str) -> Causes:
    """content.IsPathSegmentName: a name that can be one segment of a URL path."""
    if value in (".", ".."):
        return [v.invalid(path, value, f"may not be '{value}'")]
    return [v.invalid(path, value, f"may not contain '{bad}'") for bad in _PATH_SEGMENT_FORBIDDEN if bad in value]


# ---------------------------------------------------------------- Ingress

def _backend(backend: Obj, path: str) -> Causes:
    """validateIngressBackend: exactly one of a Service (by name, with a port name or number) or a resource."""
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [v.invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_reference(resource, f"{path}.resource")
    if service is None:
        return [v.invalid(path, "", "resource or service backend is required")]
    causes: Causes = []
    name = service.get("name") or ""
    causes += _dns1035_label(name, f"{path}.service.name") if name else [v.required(f"{path}.service.name")]
    port = service.get("port") or {}
    port_name, number = port.get("name") or "", port.get("number") or 0
    if port_name and number:
        causes.append(v.invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        causes += _port_name(port_name, f"{path}.service.port.name")
    elif number:
        causes += _port_number(number, f"{path}.service.port.number")
    else:
        causes.append(v.required(path, "port name or number is required"))
    return causes


def _typed_reference(ref: Obj, path: str) -> Causes:
    causes: Causes = []
    if ref.get("apiGroup") is not None:
        causes += v.dns1123_subdomain(ref["apiGroup"], f"{path}.apiGroup")
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        causes += _path_segment(value, f"{path}.{key}") if value else [v.required(f"{path}.{key}")]
    return causes


def _http_path(item: Obj, path: str) -> Causes:
    """validateHTTPIngressPath: pathType is required, Exact and Prefix paths are absolute and clean."""
    path_type = item.get("pathType")
    if path_type is None:
        return [v.required(f"{path}.pathType", "pathType must be specified")]
    causes: Causes = []
    value = item.get("path") or ""
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            causes.append(v.invalid(f"{path}.path", value, "must be an absolute path"))
        causes += [v.invalid(f"{path}.path", value, f"must not contain '{seq}'")
                   for seq in _INVALID_PATH_SEQUENCES if seq in value]
        causes += [v.invalid(f"{path}.path", value, f"cannot end with '{suffix}'")
                   for suffix in _INVALID_PATH_SUFFIXES if value.endswith(suffix)]
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            causes.append(v.invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        causes.append(v.not_supported(f"{path}.pathType", path_type, PATH_TYPES))
    return causes + _backend(item.get("backend") or {}, f"{path}.backend")


def _ingress_spec(spec: Obj) -> Causes:
    causes: Causes = []
    rules = spec.get("rules") or []
    if not rules and spec.get("defaultBackend") is None:
        causes.append(_invalid_json("spec", rules or None, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        causes += _backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(rules):
        path = f"spec.rules[{i}]"
        host = rule.get("host") or ""
        if host and _is_ip(host):
            causes.append(v.invalid(f"{path}.host", host, "must be a DNS name, not an IP address"))
        if host:
            causes += _host(host, f"{path}.host")
        http = rule.get("http")
        if http is not None:
            paths = http.get("paths") or []
            if not paths:
                causes.append(v.required(f"{path}.http.paths"))
            for j, item in enumerate(paths):
                causes += _http_path(item, f"{path}.http.paths[{j}]")
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate(tls.get("hosts") or []):
            causes += _host(host, f"spec.tls[{i}].hosts[{j}]")
        if tls.get("secretName"):
            causes += v.dns1123_subdomain(tls["secretName"], f"spec.tls[{i}].secretName")
    if spec.get("ingressClassName") is not None:
        causes += v.dns1123_subdomain(spec["ingressClassName"], "spec.ingressClassName")
    return causes


def _load_balancer(status: Obj) -> Causes:
    """ValidateIngressLoadBalancerStatus."""
    causes: Causes = []
    for i, ingress in enumerate((status.get("loadBalancer") or {}).get("ingress") or []):
        path = f"status.loadBalancer.ingress[{i}]"
        if ingress.get("ip") and not _is_ip(ingress["ip"]):
            causes.append(v.invalid(f"{path}.ip", ingress["ip"], "must be a valid IP address, (e.g. 10.9.8.7 or "
                                                                 "2001:db8::ffff)"))
        if ingress.get("hostname"):
            causes += v.dns1123_subdomain(ingress["hostname"], f"{path}.hostname")
            if _is_ip(ingress["hostname"]):
                causes.append(v.invalid(f"{path}.hostname", ingress["hostname"],
                                        "must be a DNS name, not an IP address"))
    return causes


def _shape_backend(backend: Any) -> None:
    """IngressServiceBackend.name and .port have no omitempty: Go always writes them."""
    if isinstance(backend, dict) and isinstance(backend.get("service"), dict):
        backend["service"].setdefault("name", "")
        backend["service"].setdefault("port", {})


class IngressStrategy(Strategy):
    """Ingress: Kubernetes' ingressStrategy (status reset on create and kept by main-resource writes, generation
    bumped by spec changes) and ValidateIngressCreate/Update/StatusUpdate."""

    model: ClassVar[type[KubeModel] | None] = models.Ingress
    status_subresource = True
    tracks_generation = True

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        spec = decoded.setdefault("spec", {})
        status = decoded.setdefault("status", {})
        status.setdefault("loadBalancer", {})
        _shape_backend(spec.get("defaultBackend"))
        for rule in spec.get("rules") or []:
            http = rule.get("http")
            if isinstance(http, dict):
                http.setdefault("paths", None)  # a nil slice without omitempty
                for item in http.get("paths") or []:
                    item.setdefault("pathType", None)
                    _shape_backend(item.setdefault("backend", {}))
        return decoded, warnings

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}

    def validate(self, obj: Obj) -> Causes:
        causes = self.validate_metadata(obj) + _ingress_spec(obj.get("spec") or {})
        annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(INGRESS_CLASS_ANNOTATION)
        class_name = (obj.get("spec") or {}).get("ingressClassName")
        if annotation is not None and class_name is not None and annotation != class_name:
            causes.append(v.invalid(f"annotations.{INGRESS_CLASS_ANNOTATION}", annotation,
                                    "must match `ingressClassName` when both are specified"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate_metadata(new) + _ingress_spec(new.get("spec") or {})
        if new.get("status") != old.get("status"):  # only a status write changes it
            causes += _load_balancer(new.get("status") or {})
        return causes


# ---------------------------------------------------------------- IngressClass

def _controller(controller: str) -> Causes:
    """validateIngressClassSpec's controller: required, at most 250 bytes, a domain-prefixed path."""
    path = "spec.controller"
    if not controller:
        return [v.required(path)]
    causes: Causes = []
    if len(controller.encode()) > _MAX_CONTROLLER_LENGTH:
        causes.append(v.too_long(path, _MAX_CONTROLLER_LENGTH))
    host, slash, rest = controller.partition("/")
    if not slash or not host or not rest:
        return [*causes, v.invalid(path, controller, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    causes += v.dns1123_subdomain(host, path)
    if not _HTTP_PATH.match(rest):
        causes.append(v.invalid(path, rest, "Invalid path (regex used for validation is "
                                            "'[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"))
    return causes


def _parameters(params: Obj | None) -> Causes:
    """validateIngressClassParametersReference."""
    if params is None:
        return []
    path = "spec.parameters"
    causes = _typed_reference(params, path)
    scope = params.get("scope")
    if scope is None:
        return [*causes, v.required(f"{path}.scope")]
    if scope not in PARAMETER_SCOPES:
        return [*causes, v.not_supported(f"{path}.scope", scope, PARAMETER_SCOPES)]
    namespace = params.get("namespace")
    if scope == "Namespace":
        if namespace is None:
            causes.append(v.required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            causes += v.dns1123_label(namespace, f"{path}.namespace")
    elif namespace is not None:
        causes.append(v.forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return causes


class IngressClassStrategy(Strategy):
    """IngressClass (cluster-scoped): which controller implements Ingresses of this class; the controller is
    required and immutable, parameters' scope defaults to Cluster (SetDefaults_IngressClass)."""

    model: ClassVar[type[KubeModel] | None] = models.IngressClass
    tracks_generation = True

    def default(self, ingress_class: models.IngressClass) -> None:
        params = ingress_class.spec.parameters
        if params is not None and params.scope is None:
            params.scope = "Cluster"

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        params = decoded.setdefault("spec", {}).get("parameters")
        if isinstance(params, dict):
            for key in ("kind", "name"):
                params.setdefault(key, "")
        return decoded, warnings

    def validate(self, obj: Obj) -> Causes:
        spec = obj.get("spec") or {}
        return self.validate_metadata(obj) + _controller(spec.get("controller") or "") + _parameters(
            spec.get("parameters"))

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes: Causes = []
        controller = (new.get("spec") or {}).get("controller")
        if controller != (old.get("spec") or {}).get("controller"):
            causes.append(v.invalid("spec.controller", controller or "", "field is immutable"))
        return causes + self.validate(new)


# ---------------------------------------------------------------- NetworkPolicy

def _policy_port(port: Obj, path: str) -> Causes:
    """ValidateNetworkPolicyPort."""
    causes: Causes = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        causes.append(v.not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            causes.append(v.invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(number, int):
        causes += _port_number(number, f"{path}.port")
        if end is not None:
            if end < number:
                causes.append(v.invalid(f"{path}.endPort", end, "must be greater than or equal to `port`"))
            causes += _port_number(end, f"{path}.endPort")
    else:
        if end is not None:
            causes.append(v.invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        causes += _port_name(number, f"{path}.port")
    return causes


def _cidr(text: str, path: str) -> tuple[Causes, ipaddress.IPv4Network | ipaddress.IPv6Network | None]:
    try:
        return [], ipaddress.ip_network(text, strict=False)
    except ValueError:
        return [v.invalid(path, text, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")], None


def _ip_block(block: Obj, path: str) -> Causes:
    """ValidateIPBlock: a CIDR, and exceptions strictly inside it."""
    if not block.get("cidr"):
        return [v.required(f"{path}.cidr")]
    causes, network = _cidr(block["cidr"], f"{path}.cidr")
    if network is None:
        return causes
    for i, text in enumerate(block.get("except") or []):
        found, inner = _cidr(text, f"{path}.except[{i}]")
        causes += found
        if inner is not None and (inner.version != network.version or inner.network_address not in network
                                  or inner.prefixlen <= network.prefixlen):
            causes.append(v.invalid(f"{path}.except[{i}]", text, "must be a strict subset of `cidr`"))
    return causes


def _peer(peer: Obj, path: str) -> Causes:
    """ValidateNetworkPolicyPeer: at least one selector or an ipBlock, and an ipBlock alone."""
    causes: Causes = []
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            causes += validate_selector(peer[key], f"{path}.{key}")
    if peer.get("ipBlock") is not None:
        causes += _ip_block(peer["ipBlock"], f"{path}.ipBlock")
    count = sum(peer.get(key) is not None for key in ("podSelector", "namespaceSelector", "ipBlock"))
    if count == 0:
        causes.append(v.required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        causes.append(v.forbidden(path, "may not specify both ipBlock and another peer"))
    return causes


def _policy_spec(spec: Obj) -> Causes:
    """ValidateNetworkPolicySpec."""
    causes = validate_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            path = f"spec.{direction}[{i}]"
            for j, port in enumerate(rule.get("ports") or []):
                causes += _policy_port(port, f"{path}.ports[{j}]")
            for j, peer in enumerate(rule.get(peers) or []):
                causes += _peer(peer, f"{path}.{peers}[{j}]")
    types = spec.get("policyTypes") or []
    if len(types) > len(POLICY_TYPES):
        return [*causes, _invalid_json("spec.policyTypes", types, "may not specify more than two policyTypes")]
    causes += [v.not_supported(f"spec.policyTypes[{i}]", t, POLICY_TYPES)
               for i, t in enumerate(types) if t not in POLICY_TYPES]
    return causes


class NetworkPolicyStrategy(Strategy):
    """NetworkPolicy: SetDefaults_NetworkPolicy (policyTypes: Ingress, plus Egress when egress rules exist) and
    SetDefaults_NetworkPolicyPort (protocol TCP), ValidateNetworkPolicy. Stored, never enforced (see the module)."""

    model: ClassVar[type[KubeModel] | None] = models.NetworkPolicy
    tracks_generation = True

    def default(self, policy: models.NetworkPolicy) -> None:
        spec = policy.spec
        for port in [p for rule in spec.ingress for p in rule.ports] + [p for rule in spec.egress for p in rule.ports]:
            port.protocol = port.protocol or "TCP"
        if not spec.policy_types:
            spec.policy_types = ["Ingress", "Egress"] if spec.egress else ["Ingress"]

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        decoded.setdefault("spec", {}).setdefault("podSelector", {})  # a struct without omitempty
        for direction in ("ingress", "egress"):
            for rule in decoded["spec"].get(direction) or []:
                for peer in rule.get("from" if direction == "ingress" else "to") or []:
                    if isinstance(peer.get("ipBlock"), dict):
                        peer["ipBlock"].setdefault("cidr", "")
        return decoded, warnings

    def validate(self, obj: Obj) -> Causes:
        return self.validate_metadata(obj) + _policy_spec(obj.get("spec") or {})
