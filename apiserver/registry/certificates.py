"""certificates.k8s.io/v1 CertificateSigningRequests, as Kubernetes' csrStrategy and its status and approval
strategies (pkg/registry/certificates) and ValidateCertificateSigningRequest* (pkg/apis/certificates) take them.

A CSR's spec is fixed at creation, with the requester's identity filled in from the request's user (never from
the body). Afterwards each concern has its own path: `approval` adds the Approved or Denied condition (kubectl
certificate approve), `status` sets the certificate (the signer) and other conditions such as Failed; neither
may do the other's part, no condition of those types is ever removed, and a certificate once set never changes.
Who may approve or sign for which signer is admission's business (apiserver.admission.certificates).
"""

from __future__ import annotations

import base64
import copy
import re
from typing import Any, ClassVar

from cryptography import x509

from apiserver import validation as v
from apiserver.authn.user import UserInfo
from apiserver.registry.base import Strategy
from apiserver.registry.config import canonical_bytes
from kube import csr as kcsr
from kube import errors, timeutil
from kube.models import KubeModel
from kube.models import certificates as models
from kube.resources import CERTIFICATESIGNINGREQUESTS

__all__ = ["APPROVAL", "CertificateSigningRequestStrategy", "validate_signer_name"]

Obj = dict[str, Any]
Causes = list[errors.Cause]

USAGES = sorted([
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement", "data encipherment",
    "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth", "client auth", "code signing",
    "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
    "microsoft sgc", "netscape sgc",
])
_TRUE_ONLY = (kcsr.APPROVED, kcsr.DENIED, kcsr.FAILED)
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _request_error(request: str) -> str:
    """Why spec.request is not a signed PKCS#10 request in PEM ("" if it is)."""
    pem = base64.b64decode(request) if request else b""
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        return "PEM block type must be CERTIFICATE REQUEST"
    try:
        parsed = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        return f"x509: malformed certificate request ({exc})"
    return "" if parsed.is_signature_valid else "x509: the request's signature does not verify with its public key"


def _certificate_error(certificate: str | None) -> str:
    if not certificate:
        return ""
    pem = base64.b64decode(certificate)
    blocks = re.findall(rb"-----BEGIN ([A-Z0-9 ]+)-----", pem)
    if not blocks:
        return "must contain at least one CERTIFICATE PEM block"
    for kind in blocks:
        if kind != b"CERTIFICATE":
            return f'only CERTIFICATE PEM blocks are allowed, found "{kind.decode()}"'
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        return f"x509: malformed certificate ({exc})"
    return ""


def validate_signer_name(name: str, path: str = "spec.signerName") -> Causes:
    """ValidateSignerName: `domain.tld/path`, each part made of DNS labels."""
    if not name:
        return [v.required(path)]
    parts = name.split("/")
    if len(parts) != 2:
        return [v.invalid(path, name, "must be a fully qualified domain and path of the form "
                                      "'example.com/signer-name'")]
    domain, rest = parts
    causes: Causes = []
    if len(domain) > 253:
        causes.append(v.too_long(path, 253))
    labels = domain.split(".")
    for label in labels:
        if not _LABEL.match(label) or len(label) > 63:
            causes.append(v.invalid(path, domain, f'validating label "{label}": a lowercase RFC 1123 label must '
                                    "consist of lower case alphanumeric characters or '-', and must start and end "
                                    "with an alphanumeric character"))
            break
    if len(labels) < 2:
        causes.append(v.invalid(path, domain, "should be a domain with at least two segments separated by dots"))
    for label in rest.split("."):
        if not _SUBDOMAIN.match(label) or len(label) > 253:
            causes.append(v.invalid(path, rest, f'validating label "{label}": a lowercase RFC 1123 subdomain must '
                                    "consist of lower case alphanumeric characters, '-' or '.', and must start and "
                                    "end with an alphanumeric character"))
            break
    if len(rest) > 253 - len(domain) - 1:
        causes.append(v.too_long(path, 253 - len(domain) - 1))
    return causes


def _conditions(obj: Obj) -> list[Obj]:
    return (obj.get("status") or {}).get("conditions") or []


def _of_type(obj: Obj, kind: str) -> list[Obj]:
    return [c for c in _conditions(obj) if c.get("type") == kind]


def _stamp_conditions(new: Obj, old: Obj) -> None:
    """populateConditionTimestamps: a condition's update time defaults to now, its transition time to the
    old one's when the same type kept its status, else to now."""
    now = timeutil.now()
    for c in _conditions(new):
        c.setdefault("lastUpdateTime", now)
        if not c.get("lastTransitionTime"):
            before = next((o for o in _conditions(old) if o.get("type") == c.get("type")), None)
            keep = before is not None and before.get("status") == c.get("status") and before.get(
                "lastTransitionTime")
            c["lastTransitionTime"] = before["lastTransitionTime"] if keep and before else now


class CertificateSigningRequestStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.CertificateSigningRequest
    status_subresource = True
    name_is_path_segment = True  # "We don't care what you call your certificate requests"
    approval: ClassVar[bool] = False  # the approval subresource's strategy

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        if isinstance(obj, dict):
            obj = copy.copy(obj)
            for key in ("spec", "status"):
                if isinstance(obj.get(key), dict):
                    obj[key] = dict(obj[key])
            for key, field in (("spec", "request"), ("status", "certificate")):
                if isinstance(obj.get(key), dict):
                    canonical_bytes(obj[key], "CertificateSigningRequest", (field,))
        decoded, warnings = super().decode(obj, field_validation)
        for c in _conditions(decoded):
            if not c.get("status"):
                c["status"] = "True"  # SetDefaults_CertificateSigningRequestCondition
        return decoded, warnings

    def for_subresource(self, subresource: str | None) -> Strategy:
        return APPROVAL if subresource == "approval" else self

    def set_requester(self, obj: Obj, user: UserInfo | None) -> None:
        """PrepareForCreate: who asked comes from the request, and nothing starts approved."""
        spec = obj.setdefault("spec", {})
        for key in ("username", "uid", "groups", "extra"):
            spec.pop(key, None)
        if user is not None:
            spec.update(user.to_status())  # the same four fields, named alike
        obj["status"] = {}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Only metadata changes through the object itself."""
        new["spec"] = copy.deepcopy(old.get("spec") or {})
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        """The signer's path: the new status, with the approval conditions as they were."""
        merged = super().prepare_for_status_update(new, old)
        status = merged.setdefault("status", {})
        approval = [c for c in _conditions(old) if c.get("type") in (kcsr.APPROVED, kcsr.DENIED)]
        status["conditions"] = [c for c in _conditions(merged) if c.get("type") not in (
            kcsr.APPROVED, kcsr.DENIED)] + copy.deepcopy(approval)
        if not status["conditions"]:
            status.pop("conditions")
        _stamp_conditions(merged, old)
        return merged

    def validate(self, obj: Obj) -> Causes:
        return self._validate(obj, None)

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self._validate(new, old)
        for kind in _TRUE_ONLY:
            if len(_of_type(new, kind)) < len(_of_type(old, kind)):
                causes.append(v.forbidden("status.conditions", f'updates may not remove a condition of type "{kind}"'))
        if not self.approval:
            for kind in (kcsr.APPROVED, kcsr.DENIED):
                before, after = _of_type(old, kind), _of_type(new, kind)
                if len(after) > len(before):
                    causes.append(v.forbidden("status.conditions",
                                              f'updates may not add a condition of type "{kind}"'))
                elif len(after) == len(before) and after != before:
                    causes.append(v.forbidden("status.conditions",
                                              f'updates may not modify a condition of type "{kind}"'))
        cert, old_cert = (new.get("status") or {}).get("certificate"), (old.get("status") or {}).get("certificate")
        if (cert or None) != (old_cert or None):
            if self.approval:
                causes.append(v.forbidden("status.certificate", "updates may not set certificate content"))
            elif old_cert:
                causes.append(v.forbidden("status.certificate", "updates may not modify existing certificate content"))
        return causes

    def _validate(self, obj: Obj, old: Obj | None) -> Causes:
        causes = self.validate_metadata(obj)
        spec = obj.get("spec") or {}
        old_spec = (old or {}).get("spec") or {}
        error = _request_error(spec.get("request") or "")
        if error:
            causes.append(v.invalid("spec.request", spec.get("request") or "", error))
        usages = spec.get("usages") or []
        if not usages:
            causes.append(v.required("spec.usages"))
        tolerated = set(old_spec.get("usages") or [])  # what an old object already holds stays acceptable
        seen: set[str] = set()
        for i, usage in enumerate(usages):
            if usage not in USAGES and usage not in tolerated:
                causes.append(v.not_supported(f"spec.usages[{i}]", usage, USAGES))
            if usage in seen:
                causes.append(v.duplicate(f"spec.usages[{i}]", usage))
            seen.add(usage)
        signer = spec.get("signerName") or ""
        if signer == kcsr.LEGACY_UNKNOWN and old_spec.get("signerName") != signer:
            causes.append(v.invalid("spec.signerName", signer, "the legacy signerName is not allowed via this API "
                                                              "version"))
        elif signer != kcsr.LEGACY_UNKNOWN:
            causes += validate_signer_name(signer)
        seconds = spec.get("expirationSeconds")
        if seconds is not None and seconds < 600:
            causes.append(v.invalid("spec.expirationSeconds", seconds,
                                    "may not specify a duration less than 600 seconds (10 minutes)"))
        causes += self._validate_conditions(obj)
        error = _certificate_error((obj.get("status") or {}).get("certificate"))
        if error and (old is None or (obj.get("status") or {}).get("certificate") != (
                old.get("status") or {}).get("certificate")):
            causes.append(v.invalid("status.certificate", "<certificate data>", error))
        return causes

    @staticmethod
    def _validate_conditions(obj: Obj) -> Causes:
        causes: Causes = []
        seen: set[str] = set()
        for i, c in enumerate(_conditions(obj)):
            path = f"status.conditions[{i}]"
            kind, status = c.get("type") or "", c.get("status") or ""
            if not kind:
                causes.append(v.required(f"{path}.type"))
            allowed = ["True"] if kind in _TRUE_ONLY else ["False", "True", "Unknown"]
            if not status:
                causes.append(v.required(f"{path}.status"))
            elif status not in allowed:
                causes.append(v.not_supported(f"{path}.status", status, allowed))
            other = {kcsr.APPROVED: kcsr.DENIED, kcsr.DENIED: kcsr.APPROVED}.get(kind)
            if other in seen:
                causes.append(v.invalid(f"{path}.type", kind, "Approved and Denied conditions are mutually exclusive"))
            if kind in seen:
                causes.append(v.duplicate(f"{path}.type", kind))
            seen.add(kind)
        return causes


class ApprovalStrategy(CertificateSigningRequestStrategy):
    """certificatesigningrequests/approval: only the conditions change (the Approved or Denied one)."""

    approval: ClassVar[bool] = True

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        conditions = copy.deepcopy(_conditions(new))
        new["spec"] = copy.deepcopy(old.get("spec") or {})
        new["status"] = copy.deepcopy(old.get("status") or {})
        if conditions:
            new["status"]["conditions"] = conditions
        else:
            new["status"].pop("conditions", None)
        _stamp_conditions(new, old)
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for key in ("labels", "annotations", "finalizers", "ownerReferences"):
            if key in old_meta:
                meta[key] = copy.deepcopy(old_meta[key])
            else:
                meta.pop(key, None)


APPROVAL = ApprovalStrategy(CERTIFICATESIGNINGREQUESTS)
