"""What a request asks for, read from its path, method and query alone, as Kubernetes' RequestInfoFactory does.

Authorization and audit decide on this before any handler runs, so it knows nothing of the served kinds: a
path of the API's shape is a resource request (verb, group, version, namespace, resource, name, subresource),
anything else a non-resource request (the HTTP method as its verb, the path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RequestInfo", "request_info"]

_API_PREFIXES = ("api", "apis")
_GROUPLESS_PREFIXES = ("api",)
_SPECIAL_VERBS = ("proxy", "watch")
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}


@dataclass(frozen=True)
class RequestInfo:
    resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


def _watching(query: Mapping[str, str]) -> bool:
    return query.get("watch", "") in ("1", "t", "T", "TRUE", "true", "True")  # strconv.ParseBool


def _name_from_field_selector(query: Mapping[str, str]) -> str:
    """`metadata.name=x` (or `==`) as the only term names the object, as Kubernetes reads it for authorization."""
    selector = query.get("fieldSelector", "")
    if "," in selector:
        return ""
    for op in ("==", "="):
        key, sep, value = selector.partition(op)
        if sep and key.strip() == "metadata.name" and value and "/" not in value and value not in (".", ".."):
            return value
    return ""


def request_info(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    parts = path.strip("/").split("/") if path.strip("/") else []
    plain = RequestInfo(False, path, method.lower())
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return plain
    prefix, rest = parts[0], parts[1:]
    group = ""
    if prefix not in _GROUPLESS_PREFIXES:
        if len(rest) < 3:
            return plain
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    special = bool(rest) and rest[0] in _SPECIAL_VERBS
    if special:
        if len(rest) < 2:
            return RequestInfo(True, path, rest[0], prefix, group, version)
        verb, rest = rest[0], rest[1:]
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        verb = "watch" if _watching(query) else "list"
        name = _name_from_field_selector(query)
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestInfo(True, path, verb, prefix, group, version, namespace, resource, subresource, name)
