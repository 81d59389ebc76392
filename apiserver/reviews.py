"""The review APIs: questions put to the authenticator and the authorizer, answered and never stored.

authorization.k8s.io/v1: SelfSubjectAccessReview (`kubectl auth can-i`), SubjectAccessReview (may user U do
this?), LocalSubjectAccessReview (the same, in one namespace), SelfSubjectRulesReview (`can-i --list`).
authentication.k8s.io/v1: SelfSubjectReview (`kubectl auth whoami`), TokenReview (whose is this token?).
Each answers the posted object with its `status` filled in, as Kubernetes does; creating them is authorized
like any create (the default roles let every authenticated user ask about themselves).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from apiserver import routes
from apiserver.authn.user import UserInfo
from apiserver.authz.attributes import Attributes, Decision
from apiserver.filters import user_of
from apiserver.responses import json_response
from kube import errors
from kube.resources import ResourceType

__all__ = ["RESOURCES", "router"]

Obj = dict[str, Any]

AUTHORIZATION, AUTHENTICATION = "authorization.k8s.io", "authentication.k8s.io"
_CREATE = ("create",)

#: the review kinds, for discovery (create is their only verb)
RESOURCES = (
    ResourceType(AUTHORIZATION, "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False, verbs=_CREATE),
    ResourceType(AUTHORIZATION, "v1", "SubjectAccessReview", "subjectaccessreviews", False, verbs=_CREATE),
    ResourceType(AUTHORIZATION, "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", True, verbs=_CREATE),
    ResourceType(AUTHORIZATION, "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False, verbs=_CREATE),
    ResourceType(AUTHENTICATION, "v1", "SelfSubjectReview", "selfsubjectreviews", False, verbs=_CREATE),
    ResourceType(AUTHENTICATION, "v1", "TokenReview", "tokenreviews", False, verbs=_CREATE),
)
_BY_PLURAL = {r.plural: r for r in RESOURCES}

router = APIRouter()


async def _body(request: Request, rt: ResourceType) -> Obj:
    body = await routes.read_body(request)
    if not isinstance(body, dict):
        raise errors.BadRequest(f"the body of a {rt.kind} must be an object")
    if body.get("kind") not in (None, rt.kind) or body.get("apiVersion") not in (None, rt.api_version):
        raise errors.BadRequest(f"expected a {rt.api_version} {rt.kind}, got {body.get('apiVersion')} "
                                f"{body.get('kind')}")
    spec = body.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise errors.BadRequest(f"{rt.kind}.spec must be an object")
    return body


def _answer(rt: ResourceType, body: Obj, status: Obj) -> Response:
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    return json_response({"kind": rt.kind, "apiVersion": rt.api_version,
                          "metadata": {**metadata, "creationTimestamp": None}, "spec": body.get("spec") or {},
                          "status": status}, 201)


def _invalid(rt: ResourceType, field: str, value: Any, detail: str) -> errors.Invalid:
    return errors.Invalid.for_object(rt.kind, "", [{"reason": "FieldValueInvalid", "field": field,
                                                     "message": f"Invalid value: {value!r}: {detail}"}], rt.group)


def _attributes(rt: ResourceType, user: UserInfo, spec: Obj) -> Attributes:
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None) or not isinstance(resource or non_resource, dict):
        raise _invalid(rt, "spec.resourceAttributes", resource,
                       "exactly one of nonResourceAttributes or resourceAttributes must be specified")
    if non_resource is not None:
        return Attributes(user=user, verb=str(non_resource.get("verb") or ""), resource_request=False,
                          path=str(non_resource.get("path") or ""))
    return Attributes(user=user, verb=str(resource.get("verb") or ""), resource_request=True,
                      namespace=str(resource.get("namespace") or ""), api_group=str(resource.get("group") or ""),
                      api_version=str(resource.get("version") or ""), resource=str(resource.get("resource") or ""),
                      subresource=str(resource.get("subresource") or ""), name=str(resource.get("name") or ""))


def _decide(request: Request, attrs: Attributes) -> Obj:
    verdict = request.app.state.authorization.authorizer.authorize(attrs)
    status: Obj = {"allowed": verdict.allowed}
    if verdict.decision is Decision.DENY and verdict.reason:
        status["denied"] = True
    if verdict.reason:
        status["reason"] = verdict.reason
    return status


def _subject(rt: ResourceType, spec: Obj) -> UserInfo:
    name, groups = spec.get("user") or "", spec.get("groups") or []
    if not name and not groups:
        raise _invalid(rt, "spec.user", name, "at least one of user or group must be specified")
    extra = {k: tuple(v) for k, v in (spec.get("extra") or {}).items() if isinstance(v, list)}
    return UserInfo(str(name), str(spec.get("uid") or ""), tuple(str(g) for g in groups), extra)


def _requester(request: Request) -> UserInfo:
    user = user_of(request.scope)
    if user is None:  # the filter always sets it; a missing one is a wiring bug, never a pass
        raise errors.InternalError("no authenticated user on the request")
    return user


@router.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
async def self_subject_access_review(request: Request) -> Response:
    rt = _BY_PLURAL["selfsubjectaccessreviews"]
    body = await _body(request, rt)
    return _answer(rt, body, _decide(request, _attributes(rt, _requester(request), body.get("spec") or {})))


@router.post("/apis/authorization.k8s.io/v1/subjectaccessreviews")
async def subject_access_review(request: Request) -> Response:
    rt = _BY_PLURAL["subjectaccessreviews"]
    body = await _body(request, rt)
    spec = body.get("spec") or {}
    return _answer(rt, body, _decide(request, _attributes(rt, _subject(rt, spec), spec)))


@router.post("/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews")
async def local_subject_access_review(request: Request, namespace: str) -> Response:
    rt = _BY_PLURAL["localsubjectaccessreviews"]
    body = await _body(request, rt)
    spec = body.get("spec") or {}
    asked = (spec.get("resourceAttributes") or {}).get("namespace", "") if isinstance(
        spec.get("resourceAttributes"), dict) else ""
    if spec.get("nonResourceAttributes") is not None:
        raise _invalid(rt, "spec.nonResourceAttributes", spec["nonResourceAttributes"],
                       "disallowed on this kind of request")
    if asked != namespace:
        raise errors.BadRequest(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
    return _answer(rt, body, _decide(request, _attributes(rt, _subject(rt, spec), spec)))


@router.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
async def self_subject_rules_review(request: Request) -> Response:
    rt = _BY_PLURAL["selfsubjectrulesreviews"]
    body = await _body(request, rt)
    namespace = str((body.get("spec") or {}).get("namespace") or "")
    rbac = request.app.state.authorization.rbac
    if rbac is None:  # no rule-listing authorizer: Kubernetes answers "incomplete"
        status: Obj = {"resourceRules": [], "nonResourceRules": [], "incomplete": True}
    else:
        status = rbac.subject_rules_review_status(_requester(request), namespace)
    return _answer(rt, body, status)


@router.post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
async def self_subject_review(request: Request) -> Response:
    rt = _BY_PLURAL["selfsubjectreviews"]
    body = await _body(request, rt)
    return _answer(rt, body, {"userInfo": _requester(request).to_status()})


@router.post("/apis/authentication.k8s.io/v1/tokenreviews")
async def token_review(request: Request) -> Response:
    rt = _BY_PLURAL["tokenreviews"]
    body = await _body(request, rt)
    spec = body.get("spec") or {}
    token = spec.get("token")
    if not isinstance(token, str) or not token:
        raise _invalid(rt, "spec.token", token, "token is required")
    audiences = [str(a) for a in spec.get("audiences") or []]
    user = request.app.state.authenticator.authenticate_bearer(token, audiences)
    if user is None:
        return _answer(rt, body, {"user": {}, "error": "[invalid bearer token]"})
    status: Obj = {"authenticated": True, "user": user.to_status()}
    if audiences:
        status["audiences"] = audiences
    return _answer(rt, body, status)
