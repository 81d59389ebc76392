from __future__ import annotations

from apiserver.authn.user import UserInfo
from apiserver.authz.attributes import Attributes, Decision, Verdict
from apiserver.authz.chain import AlwaysAllow, AlwaysDeny, AuthorizerChain, forbidden_message
from kube import errors

BOB = UserInfo("bob", groups=("system:authenticated",))


class Opinion:
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.asked = 0

    def authorize(self, attrs: Attributes) -> Verdict:
        self.asked += 1
        return self.verdict


def _attrs(user: UserInfo = BOB, **kw: object) -> Attributes:
    return Attributes(**{"user": user, "verb": "list", "resource_request": True, "namespace": "b",
                         "resource": "pods", **kw})  # type: ignore[arg-type]


def test_the_first_opinion_decides_and_none_is_a_denial() -> None:
    later = Opinion(Verdict(Decision.ALLOW))
    assert not AuthorizerChain([Opinion(Verdict(Decision.DENY, "no")), later]).authorize(_attrs()).allowed
    assert later.asked == 0
    assert AuthorizerChain([Opinion(Verdict(Decision.NO_OPINION)), later]).authorize(_attrs()).allowed
    denied = AuthorizerChain([AlwaysDeny()]).authorize(_attrs())
    assert denied.decision is Decision.DENY and denied.reason == "Everything is forbidden."


def test_system_masters_is_allowed_before_any_mode() -> None:
    admin = UserInfo("admin", groups=("system:masters",))
    assert AuthorizerChain([AlwaysDeny()]).authorize(_attrs(admin)).allowed
    assert AuthorizerChain([AlwaysAllow()]).authorize(_attrs()).allowed


def test_the_403_says_what_kubernetes_says() -> None:
    attrs = _attrs()
    message = forbidden_message(attrs)
    assert message == 'User "bob" cannot list resource "pods" in API group "" in the namespace "b"'
    err = errors.Forbidden.for_resource("pods", "", "", message)
    assert err.to_status()["message"] == f"pods is forbidden: {message}"
    sub = _attrs(verb="get", resource="deployments", subresource="scale", api_group="apps", name="web", namespace="")
    assert forbidden_message(sub) == ('User "bob" cannot get resource "deployments/scale" in API group "apps" at the '
                                      "cluster scope")
    assert errors.Forbidden.for_resource("deployments", "web", "apps", "x").message == \
        'deployments.apps "web" is forbidden: x'
    path = Attributes(user=BOB, verb="get", resource_request=False, path="/metrics")
    assert forbidden_message(path) == 'User "bob" cannot get path "/metrics"'
    assert errors.Forbidden.for_resource("", "", "", "y").message == "forbidden: y"
