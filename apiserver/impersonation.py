"""Impersonation (`kubectl --as`, `--as-group`, `--as-uid`): act as another user when allowed to, as
kube-apiserver's WithImpersonation filter does.

Each part asked for is authorized on its own with the verb `impersonate`: `users` (or `serviceaccounts` in
their namespace, for `system:serviceaccount:NS:NAME`), `groups`, `uids` and `userextras/<key>` of
authentication.k8s.io. The request then runs as the impersonated user, with `system:authenticated` (and a
service account's groups) added as Kubernetes adds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

from apiserver.authn.user import ALL_AUTHENTICATED, ANONYMOUS, SERVICE_ACCOUNT_PREFIX, UserInfo
from apiserver.authz.attributes import Attributes, Authorizer
from apiserver.authz.chain import forbidden_message
from kube import errors

__all__ = ["impersonate"]

USER, GROUP, UID, EXTRA_PREFIX = "impersonate-user", "impersonate-group", "impersonate-uid", "impersonate-extra-"


def _check(authorizer: Authorizer, requester: UserInfo, resource: str, name: str, group: str = "",
           namespace: str = "") -> None:
    attrs = Attributes(user=requester, verb="impersonate", resource_request=True, namespace=namespace,
                       api_group=group, resource=resource.split("/")[0],
                       subresource=resource.split("/", 1)[1] if "/" in resource else "", name=name)
    verdict = authorizer.authorize(attrs)
    if not verdict.allowed:
        why = forbidden_message(attrs) + (f": {verdict.reason}" if verdict.reason else "")
        raise errors.Forbidden.for_resource(attrs.resource, name, group, why)


def impersonate(requester: UserInfo, headers: Sequence[tuple[bytes, bytes]], authorizer: Authorizer,
                ) -> UserInfo:
    """The user the request acts as: `requester` itself when it asks for no one else."""
    values: dict[str, list[str]] = {}
    for key, value in headers:
        name = key.decode("latin-1").lower()
        if name.startswith("impersonate-"):
            values.setdefault(name, []).append(value.decode("latin-1"))
    if not values:
        return requester
    users = values.get(USER, [])
    if len(users) != 1 or not users[0]:
        raise errors.BadRequest("requested impersonation without impersonating a user (Impersonate-User is "
                                "required, once)")
    user = users[0]

    def check(resource: str, name: str, group: str = "", namespace: str = "") -> None:
        _check(authorizer, requester, resource, name, group, namespace)

    groups: list[str] = []
    if user.startswith(SERVICE_ACCOUNT_PREFIX) and user.count(":") == 3:
        namespace, account = user[len(SERVICE_ACCOUNT_PREFIX):].split(":")
        check("serviceaccounts", account, namespace=namespace)
        groups += ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    else:
        check("users", user)
    for group in values.get(GROUP, []):
        check("groups", group)
        groups.append(group)
    uid = ""
    for uid in values.get(UID, []):
        check("uids", uid, group="authentication.k8s.io")
    extra: dict[str, tuple[str, ...]] = {}
    for name, items in values.items():
        if name.startswith(EXTRA_PREFIX):
            key = unquote(name[len(EXTRA_PREFIX):])
            for item in items:
                check(f"userextras/{key}", item, group="authentication.k8s.io")
            extra[key] = tuple(items)
    if user != ANONYMOUS and ALL_AUTHENTICATED not in groups:
        groups.append(ALL_AUTHENTICATED)
    return UserInfo(user, uid, tuple(dict.fromkeys(groups)), extra)
