"""The authorizer chain (--authorization-mode), as kube-apiserver's union: the first ALLOW or DENY decides.

`system:masters` is allowed everything before any mode is asked, as in Kubernetes. When every mode has no
opinion the request is refused, and the reasons each mode gave are joined into the 403's message.
"""

from __future__ import annotations

from collections.abc import Sequence

from apiserver.authn.user import SYSTEM_MASTERS
from apiserver.authz.attributes import Attributes, Authorizer, Decision, Verdict

__all__ = ["AlwaysAllow", "AlwaysDeny", "AuthorizerChain", "forbidden_message"]


class AlwaysAllow:
    def authorize(self, attrs: Attributes) -> Verdict:
        return Verdict(Decision.ALLOW)


class AlwaysDeny:
    def authorize(self, attrs: Attributes) -> Verdict:
        return Verdict(Decision.NO_OPINION, "Everything is forbidden.")


class AuthorizerChain:
    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = list(authorizers)

    def authorize(self, attrs: Attributes) -> Verdict:
        if SYSTEM_MASTERS in attrs.user.groups:
            return Verdict(Decision.ALLOW)
        reasons: list[str] = []
        for authorizer in self.authorizers:
            verdict = authorizer.authorize(attrs)
            if verdict.decision is not Decision.NO_OPINION:
                return verdict
            if verdict.reason:
                reasons.append(verdict.reason)
        return Verdict(Decision.DENY, ", ".join(reasons))


def forbidden_message(attrs: Attributes) -> str:
    """The sentence Kubernetes' 403 carries (endpoints/handlers/responsewriters.forbiddenMessage)."""
    user = attrs.user.name
    if not attrs.resource_request:
        return f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {where}'
