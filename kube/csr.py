"""CertificateSigningRequest rules every daemon shares: the well-known signers, a CSR's state, its PEM parts."""

from __future__ import annotations

import base64
from typing import Any

__all__ = [
    "APPROVED",
    "DENIED",
    "FAILED",
    "KUBELET_SERVING",
    "KUBE_APISERVER_CLIENT",
    "KUBE_APISERVER_CLIENT_KUBELET",
    "LEGACY_UNKNOWN",
    "certificate_pem",
    "condition",
    "request_pem",
    "state",
]

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"

Obj = dict[str, Any]


def condition(csr: Obj, kind: str) -> Obj | None:
    found: Obj | None = next((c for c in (csr.get("status") or {}).get("conditions") or []
                              if c.get("type") == kind), None)
    return found


def state(csr: Obj) -> str:
    """kubectl's CONDITION column: Pending, Approved or Denied, then ,Failed and ,Issued."""
    text = "Denied" if condition(csr, DENIED) else "Approved" if condition(csr, APPROVED) else "Pending"
    if condition(csr, FAILED):
        text += ",Failed"
    if (csr.get("status") or {}).get("certificate"):
        text += ",Issued"
    return text


def request_pem(csr: Obj) -> bytes:
    return base64.b64decode((csr.get("spec") or {}).get("request") or "")


def certificate_pem(csr: Obj) -> bytes:
    return base64.b64decode((csr.get("status") or {}).get("certificate") or "")


_CLIENT_USAGES = {"digital signature", "key encipherment", "client auth"}
_SERVING_USAGES = {"digital signature", "key encipherment", "server auth"}
NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"


def signer_problem(signer: str, request: Any, usages: list[str]) -> str:
    """Why a signer refuses this request ("" if it accepts), as Kubernetes' signers check each kind:
    kubelet client certificates name a node in system:nodes and nothing else; serving certificates name a node
    and its DNS names or IPs; apiserver client certificates may only be used for client auth. `request` is a
    cryptography CertificateSigningRequest."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    subject = request.subject
    common = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    try:
        names = list(request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        names = []
    if signer == KUBE_APISERVER_CLIENT_KUBELET:
        if orgs != [NODES_GROUP]:
            return f"subject organization is not {NODES_GROUP}"
        if not common or not common[0].startswith(NODE_USER_PREFIX):
            return f'subject common name does not begin with "{NODE_USER_PREFIX}"'
        if names:
            return "DNS, email, IP and URI subjectAltNames are not allowed"
        return _usages_problem(usages, _CLIENT_USAGES, "client auth")
    if signer == KUBELET_SERVING:
        if orgs != [NODES_GROUP]:
            return f"subject organization is not {NODES_GROUP}"
        if not common or not common[0].startswith(NODE_USER_PREFIX):
            return f'subject common name does not begin with "{NODE_USER_PREFIX}"'
        if not any(isinstance(n, (x509.DNSName, x509.IPAddress)) for n in names):
            return "DNS or IP subjectAltName is required"
        if any(not isinstance(n, (x509.DNSName, x509.IPAddress)) for n in names):
            return "email and URI subjectAltNames are not allowed"
        return _usages_problem(usages, _SERVING_USAGES, "server auth")
    if signer == KUBE_APISERVER_CLIENT:
        return _usages_problem(usages, _CLIENT_USAGES, "client auth")
    return ""


def _usages_problem(usages: list[str], allowed: set[str], required: str) -> str:
    extra = sorted(set(usages) - allowed)
    if extra or required not in usages:
        return f"usages did not match {sorted(allowed)} (must contain {required!r}; found {sorted(usages)})"
    return ""
