"""Admission: an ordered chain of plugins every write passes through, after decoding and before storage.

As in Kubernetes, each plugin sees the request's attributes (operation, resource, subresource, namespace,
name, the new and the old object, dry run; the user once authentication exists) and may mutate the new
object (`admit`, the mutating phase, before the kind's validation) or refuse the request (`validate`, after
it). The generic registry knows no kinds: what is special about Pods or Namespaces lives in a plugin or in
the kind's Strategy.

    Chain([DefaultTolerationSeconds(...), NamespaceLifecycle(), ...])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apiserver.admission.certificates import CertificateApproval, CertificateSigning, CertificateSubjectRestriction
from apiserver.admission.chain import Attributes, Chain, Plugin
from apiserver.admission.defaulttolerationseconds import DefaultTolerationSeconds
from apiserver.admission.limitranger import LimitRanger
from apiserver.admission.namespacelifecycle import NamespaceLifecycle
from apiserver.admission.noderestriction import NodeRestriction
from apiserver.admission.podsecurity import PodSecurity
from apiserver.admission.priority import Priority
from apiserver.admission.rbacescalation import RBACEscalation
from apiserver.admission.resourcequota import ResourceQuota
from apiserver.admission.serviceaccount import ServiceAccount

if TYPE_CHECKING:
    from apiserver.authz.setup import Authorization

__all__ = [
    "Attributes", "CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction", "Chain",
    "DefaultTolerationSeconds", "LimitRanger", "NamespaceLifecycle", "NodeRestriction", "Plugin", "PodSecurity",
    "Priority", "RBACEscalation", "ResourceQuota", "ServiceAccount", "default_chain",
]


def default_chain(not_ready_seconds: int = 300, unreachable_seconds: int = 300, mount_tokens: bool = False,
                  authorization: Authorization | None = None) -> Chain:
    """The plugins kube-apiserver enables by default that kubelite implements, in Kubernetes' order
    (ResourceQuota last: nothing after it may refuse what it has charged). RBACEscalation stands for the checks
    Kubernetes makes in its RBAC storage, so it runs where that storage would: after admission's refusals."""
    return Chain([NamespaceLifecycle(), LimitRanger(), ServiceAccount(mount_tokens), NodeRestriction(), PodSecurity(),
                  DefaultTolerationSeconds(not_ready_seconds, unreachable_seconds), Priority(),
                  CertificateApproval(authorization), CertificateSigning(authorization),
                  CertificateSubjectRestriction(), RBACEscalation(authorization), ResourceQuota()])
