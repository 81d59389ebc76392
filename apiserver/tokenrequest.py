"""`serviceaccounts/NAME/token`: a TokenRequest answered with a fresh signed token, as Kubernetes' TokenRequest API.

The token is for the ServiceAccount as it is now (its UID), optionally bound to a Pod or Secret of the same
namespace (by UID, checked here), for the asked audiences (default: the API's own) and lifetime (10 minutes
to 2^32 seconds; one hour by default). Admission runs on it like any create, so NodeRestriction can hold a
kubelet to tokens for its own pods. Nothing is stored.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from apiserver.admission import Attributes
from apiserver.authn.serviceaccount import TokenIssuer
from apiserver.authn.user import UserInfo
from apiserver.rest import Registry
from kube import errors
from kube.resources import NODES, PODS, SECRETS, SERVICEACCOUNTS

__all__ = ["DEFAULT_SECONDS", "TokenRequests"]

Obj = dict[str, Any]

DEFAULT_SECONDS = 3600
MIN_SECONDS = 600  # "may not specify a duration less than 10 minutes"
MAX_SECONDS = 2**32
_BOUND_KINDS = {"Pod": PODS, "Secret": SECRETS}


def _invalid(field: str, value: Any, detail: str) -> errors.Invalid:
    return errors.Invalid.for_object("TokenRequest", "", [{"reason": "FieldValueInvalid", "field": field,
                                                          "message": f"Invalid value: {value!r}: {detail}"}],
                                     "authentication.k8s.io")


@dataclass
class TokenRequests:
    issuer: TokenIssuer
    api_audiences: list[str]

    async def create(self, registry: Registry, namespace: str, name: str, body: Any, user: UserInfo | None,
                     dry_run: bool) -> Obj:
        if not isinstance(body, dict) or body.get("kind") not in (None, "TokenRequest"):
            raise errors.BadRequest("the body of serviceaccounts/token must be a TokenRequest")
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise errors.BadRequest("TokenRequest.spec must be an object")
        seconds = spec.get("expirationSeconds", DEFAULT_SECONDS)
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise _invalid("spec.expirationSeconds", seconds, "must be an integer")
        if seconds < MIN_SECONDS:
            raise _invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")
        if seconds > MAX_SECONDS:
            raise _invalid("spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")
        audiences = spec.get("audiences") or self.api_audiences
        if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
            raise _invalid("spec.audiences", audiences, "must be a list of non-empty strings")
        account = await registry.get(SERVICEACCOUNTS, namespace, name)
        bound, node = await self._bound(registry, namespace, spec.get("boundObjectRef"))
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "metadata": {"name": name, "namespace": namespace}, "spec": spec}
        await registry.admission.validate(Attributes("CREATE", SERVICEACCOUNTS, namespace, name, request,
                                                     account, "token", dry_run, user=user))
        token, expires = "", 0
        if not dry_run:
            token, expires = self.issuer.issue(namespace, name, account["metadata"]["uid"], audiences, seconds,
                                               bound, node)
        stamp = datetime.datetime.fromtimestamp(expires, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {**request, "metadata": {**request["metadata"], "creationTimestamp": None},
                "spec": {**spec, "audiences": audiences, "expirationSeconds": seconds},
                "status": {"token": token, "expirationTimestamp": stamp}}

    async def _bound(self, registry: Registry, namespace: str, ref: Any) -> tuple[Obj | None, Obj | None]:
        """The bound object {kind, name, uid} and, for a pod, the node it runs on; Invalid when they do not match."""
        if ref is None:
            return None, None
        if not isinstance(ref, dict) or ref.get("kind") not in _BOUND_KINDS:
            raise _invalid("spec.boundObjectRef.kind", (ref or {}).get("kind") if isinstance(ref, dict) else ref,
                           'supported values: "Pod", "Secret"')
        if ref.get("apiVersion") not in (None, "", "v1"):
            raise _invalid("spec.boundObjectRef.apiVersion", ref.get("apiVersion"), 'supported values: "v1"')
        if not ref.get("name"):
            raise _invalid("spec.boundObjectRef.name", ref.get("name"), "name is required")
        target = await registry.get(_BOUND_KINDS[ref["kind"]], namespace, ref["name"])
        uid = target["metadata"]["uid"]
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.Conflict(f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
                                  f"record. The object might have been deleted and then recreated")
        node = None
        node_name = (target.get("spec") or {}).get("nodeName") if ref["kind"] == "Pod" else None
        if node_name:
            try:
                node_obj = await registry.get(NODES, None, node_name)
                node = {"name": node_name, "uid": node_obj["metadata"]["uid"]}
            except errors.NotFound:
                node = None
        return {"kind": ref["kind"], "name": ref["name"], "uid": uid}, node
