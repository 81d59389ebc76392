"""CertificateApproval, CertificateSigning and CertificateSubjectRestriction, as Kubernetes'
plugin/pkg/admission/certificates: who may approve, and who may sign, requests for which signer.

RBAC lets a user update certificatesigningrequests/approval or /status at all; these plugins ask the
authorizer again about the signer itself: the verb `approve` (or `sign`) on the resource `signers` of
certificates.k8s.io, named by the CSR's signerName or by its domain with `/*`. And no one may ask the
kube-apiserver-client signer for a certificate in the group system:masters, which no RBAC rule could limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import NameOID

from apiserver.admission.chain import Attributes, Plugin
from apiserver.authn.user import UserInfo
from apiserver.authz.attributes import Attributes as AuthzAttributes
from kube import csr as kcsr
from kube import errors
from kube.resources import CERTIFICATESIGNINGREQUESTS

if TYPE_CHECKING:
    from apiserver.authz.setup import Authorization

__all__ = ["CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction", "signer_allowed"]

GROUP = "certificates.k8s.io"
MASTERS = "system:masters"


def signer_allowed(authorization: Authorization, user: UserInfo, verb: str, signer: str) -> bool:
    """IsAuthorizedForSignerName: the exact signer name, else `domain/*`."""
    domain = signer.partition("/")[0]
    return any(authorization.authorizer.authorize(AuthzAttributes(
        user=user, verb=verb, resource_request=True, api_group=GROUP, resource="signers", name=name)).allowed
        for name in (signer, f"{domain}/*"))


def _is_csr(attrs: Attributes) -> bool:
    return attrs.resource == CERTIFICATESIGNINGREQUESTS and attrs.obj is not None


class _SignerCheck(Plugin):
    verb = ""
    subresource = ""

    def __init__(self, authorization: Authorization | None) -> None:
        self.authorization = authorization

    async def validate(self, attrs: Attributes) -> None:
        if self.authorization is None or attrs.user is None or attrs.operation != "UPDATE":
            return
        if not _is_csr(attrs) or attrs.subresource != self.subresource or not self.applies(attrs):
            return
        assert attrs.obj is not None
        signer = (attrs.obj.get("spec") or {}).get("signerName") or ""
        if not signer_allowed(self.authorization, attrs.user, self.verb, signer):
            raise errors.Forbidden.for_resource(attrs.resource.plural, attrs.name, GROUP,
                                                f'user not permitted to {self.verb} requests with signerName '
                                                f'"{signer}"')

    def applies(self, attrs: Attributes) -> bool:
        return True


class CertificateApproval(_SignerCheck):
    name = "CertificateApproval"
    verb, subresource = "approve", "approval"


class CertificateSigning(_SignerCheck):
    """Only a write that changes the certificate is a signing."""

    name = "CertificateSigning"
    verb, subresource = "sign", "status"

    def applies(self, attrs: Attributes) -> bool:
        assert attrs.obj is not None and attrs.old is not None
        return (attrs.obj.get("status") or {}).get("certificate") != (attrs.old.get("status") or {}).get(
            "certificate")


class CertificateSubjectRestriction(Plugin):
    name = "CertificateSubjectRestriction"

    async def validate(self, attrs: Attributes) -> None:
        if attrs.operation != "CREATE" or not _is_csr(attrs):
            return
        assert attrs.obj is not None
        if (attrs.obj.get("spec") or {}).get("signerName") != kcsr.KUBE_APISERVER_CLIENT:
            return
        try:
            request = x509.load_pem_x509_csr(kcsr.request_pem(attrs.obj))
        except ValueError:
            return  # validation refuses what does not parse
        orgs = [a.value for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if MASTERS in orgs:
            raise errors.Forbidden.for_resource(attrs.resource.plural, attrs.name, GROUP,
                                                f"use of {kcsr.KUBE_APISERVER_CLIENT} signer with {MASTERS} group "
                                                "is not allowed")
