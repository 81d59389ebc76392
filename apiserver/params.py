"""Query parameters parsed the way Kubernetes' apiserver parses them, into typed options.

Everything a request's query string can say is checked here, before the registry runs: integers within
int64, booleans, resourceVersion and resourceVersionMatch rules, dryRun, fieldManager, fieldValidation.
A bad value is a 400 (or 422 for the option kinds Kubernetes validates as objects), never a 500 later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apiserver.authn.user import UserInfo
from kube import errors, fields, labels

__all__ = [
    "ContinueToken",
    "DeleteOptions",
    "ListOptions",
    "WriteOptions",
    "parse_bool",
    "parse_delete_options",
    "parse_int64",
    "parse_resource_version",
    "parse_write_options",
]

INT64_MAX = 2**63 - 1
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")
RV_MATCH = ("NotOlderThan", "Exact")
_CONTINUE_VERSION = "meta.k8s.io/v1"
_GO_INT = re.compile(r"[+-]?[0-9]+")


def parse_int64(name: str, text: str | None, minimum: int = 0) -> int | None:
    if text is None or text == "":
        return None
    # strconv.ParseInt: a sign and ASCII digits (int() would take spaces, `_` and non-ASCII digits too).
    if not _GO_INT.fullmatch(text):
        raise errors.BadRequest(f"{name}: invalid value {text!r}: must be an integer")
    value = int(text, 10)
    if not minimum <= value <= INT64_MAX:
        raise errors.BadRequest(f"{name}: invalid value {text!r}: must be between {minimum} and {INT64_MAX}")
    return value


def parse_bool(name: str, text: str | None) -> bool:
    """Go's strconv.ParseBool, as Kubernetes' query conversion uses it."""
    if text is None or text == "":
        return False
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise errors.BadRequest(f"{name}: invalid value {text!r}: must be a boolean")


def parse_resource_version(text: str | None, what: str = "resourceVersion") -> int | None:
    """A resourceVersion is etcd's revision as decimal text; "" means none, "0" means any."""
    if text is None or text == "":
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > INT64_MAX:
        raise errors.BadRequest(f"{what}: Invalid value: {json.dumps(text)}: invalid resource version")
    return int(text)


def _invalid_options(kind: str, causes: list[errors.Cause]) -> errors.Invalid:
    return errors.Invalid.for_object(kind, "", causes, "meta.k8s.io")


@dataclass
class ContinueToken:
    """Where a paginated list goes on: bound to the key prefix and selectors it was made for.

    As in Kubernetes the start key is stored relative to the prefix being listed, so a token cannot
    reach outside the namespace or resource it is presented on; the selector digest refuses a token
    presented with other selectors (whose pages would skip or repeat objects)."""

    revision: int
    start: str  # relative to the listed prefix
    selectors: str

    def encode(self) -> str:
        raw = json.dumps({"v": _CONTINUE_VERSION, "rv": self.revision, "start": self.start, "sel": self.selectors},
                         separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, selectors: str) -> ContinueToken:
        def bad(detail: str) -> errors.BadRequest:
            return errors.BadRequest(f"continue key is not valid: {detail}")

        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise bad("it is not base64-encoded JSON") from None
        if not isinstance(data, dict) or data.get("v") != _CONTINUE_VERSION:
            raise bad("incorrect encoded version")
        rv, start, sel = data.get("rv"), data.get("start"), data.get("sel")
        if not isinstance(rv, int) or isinstance(rv, bool) or not 0 < rv <= INT64_MAX:
            raise bad(f"incorrect encoded start resourceVersion (version {_CONTINUE_VERSION})")
        if not isinstance(start, str) or not start or start.startswith("/") or "\0" in start.rstrip("\0") \
                or any(part in (".", "..") for part in start.split("/")):
            raise bad("the start key is not valid")
        if sel != selectors:
            raise bad("it was made for a list with other label or field selectors")
        return cls(rv, start, selectors)


@dataclass
class ListOptions:
    """A list's or watch's parameters, parsed and checked (Kubernetes' metav1.ListOptions)."""

    label_selector: str | None = None
    field_selector: str | None = None
    limit: int = 0
    continue_token: str | None = None
    resource_version: str | None = None
    resource_version_match: str | None = None
    timeout_seconds: int | None = None
    watch: bool = False
    allow_bookmarks: bool = False
    send_initial_events: bool = False
    labels: labels.Selector = field(init=False)
    fields: fields.FieldSelector = field(init=False)
    revision: int | None = field(init=False)  # resourceVersion as a number; None when not given

    def __post_init__(self) -> None:
        try:
            self.labels = labels.parse(self.label_selector)
        except ValueError as exc:
            raise errors.BadRequest(str(exc)) from exc
        try:
            self.fields = fields.parse(self.field_selector)
        except ValueError as exc:
            raise errors.BadRequest(str(exc)) from exc
        if self.limit < 0:
            raise errors.BadRequest("limit must be non-negative")
        self.revision = parse_resource_version(self.resource_version)
        self._validate()

    def _validate(self) -> None:
        causes: list[errors.Cause] = []
        match, rv = self.resource_version_match, self.resource_version
        if match is not None and match not in RV_MATCH:
            causes.append({"reason": "FieldValueNotSupported", "field": "resourceVersionMatch",
                           "message": f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"'})
        elif self.watch and self.send_initial_events and match != "NotOlderThan":
            causes.append({"reason": "FieldValueForbidden", "field": "resourceVersionMatch",
                           "message": "Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
                                      "NotOlderThan"})
        elif match and self.watch and not self.send_initial_events:
            causes.append({"reason": "FieldValueForbidden", "field": "resourceVersionMatch",
                           "message": "Forbidden: resourceVersionMatch is forbidden for watch unless "
                                      "sendInitialEvents is provided"})
        elif match and not rv and not self.send_initial_events:
            causes.append({"reason": "FieldValueForbidden", "field": "resourceVersionMatch",
                           "message": "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is "
                                      "provided"})
        elif match == "Exact" and rv == "0":
            causes.append({"reason": "FieldValueForbidden", "field": "resourceVersionMatch",
                           "message": 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion '
                                      '"0"'})
        elif match and self.continue_token:
            causes.append({"reason": "FieldValueForbidden", "field": "resourceVersionMatch",
                           "message": "Forbidden: resourceVersionMatch is forbidden when continue is provided"})
        if self.continue_token and rv and rv != "0" and not self.watch:
            causes.append({"reason": "FieldValueForbidden", "field": "resourceVersion",
                           "message": "Forbidden: specifying resource version is not allowed when using continue"})
        if self.send_initial_events and not self.watch:
            causes.append({"reason": "FieldValueForbidden", "field": "sendInitialEvents",
                           "message": "Forbidden: sendInitialEvents is forbidden for list"})
        if causes:
            raise _invalid_options("ListOptions", causes)

    @classmethod
    def from_query(cls, q: Mapping[str, str]) -> ListOptions:
        return cls(
            label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"),
            limit=parse_int64("limit", q.get("limit")) or 0,
            continue_token=q.get("continue") or None,
            resource_version=q.get("resourceVersion"),
            resource_version_match=q.get("resourceVersionMatch") or None,
            timeout_seconds=parse_int64("timeoutSeconds", q.get("timeoutSeconds")),
            watch=parse_bool("watch", q.get("watch")),
            allow_bookmarks=parse_bool("allowWatchBookmarks", q.get("allowWatchBookmarks")),
            send_initial_events=parse_bool("sendInitialEvents", q.get("sendInitialEvents")),
        )

    def matches(self, obj: Any) -> bool:
        return self.labels.matches((obj.get("metadata") or {}).get("labels")) and self.fields.matches(obj)

    def selectors_digest(self) -> str:
        text = f"{self.label_selector or ''}\0{self.field_selector or ''}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def continuation(self) -> ContinueToken | None:
        if not self.continue_token:
            return None
        return ContinueToken.decode(self.continue_token, self.selectors_digest())


@dataclass(frozen=True)
class WriteOptions:
    """What a create, update, patch or delete was asked to do besides the body (Create/Update/PatchOptions)."""

    dry_run: bool = False
    field_validation: str = "Warn"
    field_manager: str | None = None
    force: bool = False
    user_agent: str = ""
    user: UserInfo | None = None  # who asked (admission plugins such as NodeRestriction decide on it)

    @property
    def manager(self) -> str:
        """Who owns the fields this write sets: fieldManager, else the User-Agent's program name (as Kubernetes
        names managers it was not told about, e.g. `kubectl` from `kubectl/v1.37.0 (linux/amd64)`)."""
        if self.field_manager:
            return self.field_manager
        return self.user_agent.split("/", 1)[0].strip()[:128] or "unknown"


def parse_write_options(q: Mapping[str, str], dry_run_values: list[str], kind: str = "CreateOptions",
                        apply: bool = False, user_agent: str = "") -> WriteOptions:
    """`kind` names the options in a 422 (CreateOptions, UpdateOptions, PatchOptions, DeleteOptions)."""
    causes: list[errors.Cause] = []
    for value in dry_run_values:
        if value != "All":
            causes.append({"reason": "FieldValueNotSupported", "field": "dryRun",
                           "message": f'Unsupported value: {json.dumps(value)}: supported values: "All"'})
    manager = q.get("fieldManager")
    if manager is not None and (len(manager) > 128 or not manager.isprintable()):
        causes.append({"reason": "FieldValueInvalid", "field": "fieldManager",
                       "message": f"Invalid value: {json.dumps(manager)}: must be no more than 128 printable "
                                  "characters"})
    validation = q.get("fieldValidation") or "Warn"
    if validation not in FIELD_VALIDATION:
        raise errors.BadRequest(f"fieldValidation: invalid value {validation!r}: must be one of Ignore, Warn, "
                                "Strict")
    force = parse_bool("force", q.get("force"))
    if force and not apply:
        causes.append({"reason": "FieldValueForbidden", "field": "force",
                       "message": "Forbidden: may not be specified for non-apply patch"})
    if apply and not manager:
        causes.append({"reason": "FieldValueRequired", "field": "fieldManager",
                       "message": "Required value: is required for apply patch"})
    if causes:
        raise _invalid_options(kind, causes)
    printable_agent = "".join(ch for ch in user_agent if ch.isprintable())
    return WriteOptions(dry_run=bool(dry_run_values), field_validation=validation, field_manager=manager,
                        force=force, user_agent=printable_agent)


@dataclass(frozen=True)
class DeleteOptions:
    """A delete's options, from its body (metav1.DeleteOptions) and query, typed and checked."""

    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    dry_run: bool = False
    user: UserInfo | None = None


_PROPAGATION = ("Orphan", "Background", "Foreground")


def parse_delete_options(body: Any, q: Mapping[str, str] | None = None,
                         query_dry_run: list[str] | None = None) -> DeleteOptions:
    """DeleteOptions from a JSON body (may be None) and the query, which wins where both say something."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise errors.BadRequest("DeleteOptions must be an object")
    q = q or {}
    causes: list[errors.Cause] = []

    def typed(name: str, kind: type) -> Any:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise errors.BadRequest(f"DeleteOptions.{name}: wrong type {type(value).__name__}")
        return value

    grace = typed("gracePeriodSeconds", int)
    if q.get("gracePeriodSeconds") not in (None, ""):
        grace = parse_int64("gracePeriodSeconds", q["gracePeriodSeconds"], minimum=-(2**63))
    if grace is not None and not -(2**63) <= grace <= INT64_MAX:
        raise errors.BadRequest("DeleteOptions.gracePeriodSeconds: out of range")
    if grace is not None and grace < 0:
        grace = 0  # Kubernetes treats a negative grace period as "now"
    policy = typed("propagationPolicy", str)
    orphan = typed("orphanDependents", bool)
    if q.get("propagationPolicy"):
        policy = q["propagationPolicy"]
    if q.get("orphanDependents") not in (None, ""):
        orphan = parse_bool("orphanDependents", q["orphanDependents"])
    if policy is not None and orphan is not None:
        causes.append({"reason": "FieldValueInvalid", "field": "propagationPolicy",
                       "message": "Invalid value: \"" + policy + "\": orphanDependents and deletionPropagation "
                                  "cannot be both set"})
    elif policy is None and orphan is not None:
        policy = "Orphan" if orphan else "Background"
    elif policy is not None and policy not in _PROPAGATION:
        causes.append({"reason": "FieldValueNotSupported", "field": "propagationPolicy",
                       "message": f'Unsupported value: {json.dumps(policy)}: supported values: "Foreground", '
                                  '"Background", "Orphan", "nil"'})
    preconditions = typed("preconditions", dict) or {}
    uid, rv = preconditions.get("uid"), preconditions.get("resourceVersion")
    if not isinstance(uid, str | None) or not isinstance(rv, str | None):
        raise errors.BadRequest("DeleteOptions.preconditions: uid and resourceVersion must be strings")
    dry_run = typed("dryRun", list) or []
    if not all(isinstance(v, str) for v in dry_run):
        raise errors.BadRequest("DeleteOptions.dryRun: must be a list of strings")
    dry_run = list(query_dry_run or []) + dry_run
    for value in dry_run:
        if value != "All":
            causes.append({"reason": "FieldValueNotSupported", "field": "dryRun",
                           "message": f'Unsupported value: {json.dumps(value)}: supported values: "All"'})
    if causes:
        raise _invalid_options("DeleteOptions", causes)
    return DeleteOptions(grace, policy, uid or None, rv or None, bool(dry_run))
