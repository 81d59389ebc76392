"""Server-side apply field ownership (Kubernetes' structured-merge-diff), on plain dicts.

Every write records in `metadata.managedFields` which manager owns which fields, so an apply can tell a change
it may make (a field it owns, or one whose value it does not change) from one that overrules somebody else (409
Conflict, unless forced). This module is pure: objects in, objects and managedFields entries out. Its
neighbours: `apiserver/patching.py` supplies the list semantics (merge keys), `apiserver/rest.py` calls
`update` on every non-apply write and `apply` for `application/apply-patch+yaml`.

A field is a path of FieldsV1 elements, each kept in its serialised form: `f:name` (a map field), `k:{"name":"x"}`
(a keyed list item), `v:"x"` (a set item), `i:0` (an index, only read, never produced). A FieldSet is a frozenset
of such paths; a path is a member when the manager owns it (for a keyed item: the item itself, FieldsV1's `.`).

What is simplified against structured-merge-diff, which walks the OpenAPI schema:
- no schema: every map is granular except those named in ATOMIC_MAPS (LabelSelectors and atomic string maps);
  a list is keyed when patching.merge_key names its key (plus EXTRA_KEYS, e.g. ports' protocol), a set when its
  field is in SET_LISTS, atomic otherwise (and atomic too when its items lack the key or repeat it);
- empty lists and maps are leaves; top-level `spec`/`status` are never members themselves (typed kinds always
  have them); status is tracked only for `status` subresource writes, everything else only for the others;
- new keyed items are appended after the live ones (SMD interleaves them by the config's order);
- no version conversion, no cap of ten Update entries, no last-applied-configuration annotation upgrade.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from apiserver import patching
from kube import errors

__all__ = ["FieldSet", "Path", "apply", "fields_of", "from_fields_v1", "path_string", "to_fields_v1", "update"]

Path = tuple[str, ...]
FieldSet = frozenset[Path]

#: maps Kubernetes marks atomic (`+structType=atomic` LabelSelector/NodeSelector, `+mapType=atomic` selectors).
ATOMIC_MAPS = frozenset({"selector", "podSelector", "namespaceSelector", "labelSelector", "nodeSelector",
                         "requiredDuringSchedulingIgnoredDuringExecution"})
#: (list field, merge key) -> further key fields with their defaults (None: part of the key only when present).
EXTRA_KEYS: dict[tuple[str, str], dict[str, Any]] = {
    ("ports", "containerPort"): {"protocol": "TCP"},
    ("ports", "port"): {"protocol": "TCP"},
    ("topologySpreadConstraints", "topologyKey"): {"whenUnsatisfiable": None},
}
#: lists of scalars Kubernetes marks `+listType=set`: each value is owned on its own.
SET_LISTS = frozenset({"finalizers"})

#: fields Kubernetes never records (its stripMeta set, plus deletion marks set by the server alone).
_STRIP: frozenset[Path] = frozenset({
    (), ("f:apiVersion",), ("f:kind",), ("f:metadata",), ("f:spec",), ("f:status",),
    *(("f:metadata", "f:" + name) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
        "managedFields", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds")),
})
_BEFORE_FIRST_APPLY = "before-first-apply"
_MISSING: Any = object()
_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


# ---------------------------------------------------------------- walking objects without a schema


def _json(value: Any) -> str:
    """Go's encoding/json form (sorted keys, compact, HTML-escaped), so keys compare as Kubernetes writes them."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _item_key(list_field: str, key: str, item: Any) -> str | None:
    if not isinstance(item, dict) or item.get(key) is None:
        return None
    fields = {key: item[key]}
    for extra, default in EXTRA_KEYS.get((list_field, key), {}).items():
        if item.get(extra) is not None:
            fields[extra] = item[extra]
        elif default is not None:
            fields[extra] = default
    return "k:" + _json(fields)


def _elements(parent: str, field: str, items: list) -> list[str] | None:
    """The path elements of a list's items, or None when the list is atomic."""
    key = patching.merge_key(parent, field)
    if key:
        pes = [_item_key(field, key, item) for item in items]
    elif field in SET_LISTS and all(not isinstance(v, dict | list) for v in items):
        pes = ["v:" + _json(v) for v in items]
    else:
        return None
    if None in pes or len(set(pes)) != len(pes):
        return None
    return pes  # type: ignore[return-value]


def _kind(parent: str, field: str, value: Any) -> str:
    """How ownership splits below a value: map, keyed, set, leaf; or missing / empty (fits any kind)."""
    if value is _MISSING:
        return "missing"
    if isinstance(value, dict | list) and not value:
        return "empty"
    if isinstance(value, dict):
        return "leaf" if field in ATOMIC_MAPS else "map"
    if isinstance(value, list):
        pes = _elements(parent, field, value)
        if pes is None:
            return "leaf"
        return "keyed" if pes[0].startswith("k:") else "set"
    return "leaf"


def _pair_kind(parent: str, field: str, old: Any, new: Any) -> str:
    """The kind two versions of a value share; different shapes compare as one leaf."""
    kinds = {_kind(parent, field, v) for v in (old, new)} - {"missing", "empty"}
    return kinds.pop() if len(kinds) == 1 else "leaf"


def _children(parent: str, field: str, kind: str, value: Any) -> dict[str, tuple[str, str, Any]]:
    """element -> (child's parent, child's field, child's value); list items keep their list's context."""
    if value is _MISSING or not value:
        return {}
    if kind == "map":
        return {"f:" + k: (field, k, v) for k, v in value.items()}
    pes = _elements(parent, field, value) or []
    return {pe: (parent, field, item) for pe, item in zip(pes, value, strict=True)}


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b)


# ---------------------------------------------------------------- field sets


def fields_of(obj: dict[str, Any]) -> FieldSet:
    """Every field of obj, as structured-merge-diff's ToFieldSet: leaves, atomic values and keyed items."""
    out: set[Path] = set()
    _collect((), "", "", obj, out)
    return frozenset(out)


def _collect(path: Path, parent: str, field: str, value: Any, out: set[Path]) -> None:
    kind = _kind(parent, field, value)
    if kind in ("leaf", "empty"):
        out.add(path)
        return
    for pe, (cparent, cfield, cvalue) in _children(parent, field, kind, value).items():
        if kind != "map":
            out.add((*path, pe))
        _collect((*path, pe), cparent, cfield, cvalue, out)


@dataclass
class _Diff:
    added: set[Path]
    modified: set[Path]
    removed: set[Path]


def _compare(old: Any, new: Any) -> _Diff:
    """What changed from old to new; containers that appear or vanish count too (they get FieldsV1's `.`)."""
    diff = _Diff(set(), set(), set())
    _compare_at((), "", "", old, new, diff)
    return diff


def _compare_at(path: Path, parent: str, field: str, old: Any, new: Any, diff: _Diff) -> None:
    if old is _MISSING:  # all of it is added (every field of a created object): one walk, nothing to pair
        _every_path(path, parent, field, new, diff.added)
        return
    if new is _MISSING:
        _every_path(path, parent, field, old, diff.removed)
        return
    kind = _pair_kind(parent, field, old, new)
    if kind == "leaf":
        if old is not _MISSING and new is not _MISSING and not _same(old, new):
            diff.modified.add(path)
    else:
        olds, news = _children(parent, field, kind, old), _children(parent, field, kind, new)
        for pe in {**olds, **news}:
            cparent, cfield, _ = olds.get(pe) or news[pe]
            cold = olds[pe][2] if pe in olds else _MISSING
            cnew = news[pe][2] if pe in news else _MISSING
            _compare_at((*path, pe), cparent, cfield, cold, cnew, diff)
    if old is _MISSING and new is not _MISSING:
        diff.added.add(path)
    elif new is _MISSING and old is not _MISSING:
        diff.removed.add(path)


def _every_path(path: Path, parent: str, field: str, value: Any, out: set[Path]) -> None:
    """`path` and every path below it, containers included: what `_compare_at` finds when one side is missing."""
    kind = _kind(parent, field, value)
    if kind in ("map", "keyed", "set"):
        for pe, (cparent, cfield, cvalue) in _children(parent, field, kind, value).items():
            _every_path((*path, pe), cparent, cfield, cvalue, out)
    out.add(path)


def _tracked(paths: set[Path] | FieldSet, subresource: str | None) -> set[Path]:
    """The paths a write through this (sub)resource may own: status for `status`, the rest for the others."""
    on_status = subresource == "status"
    return {p for p in paths if p not in _STRIP and (p[0] == "f:status") == on_status}


# ---------------------------------------------------------------- FieldsV1


def _element_order(pe: str) -> tuple[int, Any]:
    body = pe[2:]
    return (_RANK.get(pe[0], 4), int(body) if pe[0] == "i" else body)


def _tree(paths: set[Path] | FieldSet) -> dict[str, Any]:
    """Nested {element: [is_member, subtree]}: FieldsV1's shape."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for i, pe in enumerate(path):
            entry = node.setdefault(pe, [False, {}])
            if i == len(path) - 1:
                entry[0] = True
            node = entry[1]
    return root


def to_fields_v1(fieldset: set[Path] | FieldSet) -> dict[str, Any]:
    """FieldsV1 JSON: `{}` marks a member leaf, `.` a member that also has owned children."""
    return _emit(_tree(fieldset))


def _emit(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pe in sorted(node, key=_element_order):
        member, sub = node[pe]
        out[pe] = ({".": {}} if member and sub else {}) | _emit(sub)
    return out


def from_fields_v1(fields: dict[str, Any]) -> FieldSet:
    """The FieldSet a FieldsV1 document holds; unknown element types are skipped, as Kubernetes does."""
    if not isinstance(fields, dict):
        raise ValueError("fieldsV1 must be an object")
    out: set[Path] = set()
    _read((), fields, out)
    return frozenset(out)


def _read(path: Path, node: dict[str, Any], out: set[Path]) -> None:
    for key, sub in node.items():
        if key == ".":
            out.add(path)
            continue
        pe = _canonical(key)
        if pe is None:
            continue
        if not isinstance(sub, dict):
            raise ValueError(f"fieldsV1 {key}: expected an object")
        if not sub:
            out.add((*path, pe))
        _read((*path, pe), sub, out)


def _canonical(pe: str) -> str | None:
    """A path element re-serialised as this module writes it (sorted key fields), None for an unknown type."""
    if len(pe) < 2 or pe[1] != ":":
        raise ValueError(f"invalid path element {pe!r}")
    kind, body = pe[0], pe[2:]
    if kind == "f":
        return pe
    if kind == "i":
        return f"i:{int(body)}"
    if kind in ("k", "v"):
        value = json.loads(body)
        if kind == "k" and not isinstance(value, dict):
            raise ValueError(f"invalid key element {pe!r}")
        return kind + ":" + _json(value)
    return None


def path_string(path: Path) -> str:
    """A path as Kubernetes prints it in conflicts: `.spec.containers[name="web"].image`."""
    return "".join(_element_string(pe) for pe in path)


def _element_string(pe: str) -> str:
    kind, body = pe[0], pe[2:]
    if kind == "f":
        return "." + body
    if kind == "k":
        return "[" + ",".join(f"{k}={_go_value(v)}" for k, v in json.loads(body).items()) + "]"
    if kind == "v":
        return f"[={_go_value(json.loads(body))}]"
    return f"[{body}]"


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def _iterate(node: dict[str, Any], prefix: Path = ()) -> list[Path]:
    """Paths in structured-merge-diff's order: a level's members first, then its children's, each sorted."""
    order = sorted(node, key=_element_order)
    out = [(*prefix, pe) for pe in order if node[pe][0]]
    for pe in order:
        out += _iterate(node[pe][1], (*prefix, pe))
    return out


# ---------------------------------------------------------------- managedFields entries


@dataclass
class _Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: set[Path]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Kubernetes' manager identifier: appliers are one entry whatever apiVersion they used."""
        version = self.api_version if self.operation == "Update" else ""
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """The manager as conflict messages name it (`"kubectl-edit" using v1`)."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        return text + (f" using {self.api_version}" if self.operation == "Update" else "")


_Managed = dict[tuple[str, str, str, str], _Entry]


def _decode(entries: Any) -> _Managed:
    """managedFields entries by manager identifier; ValueError for one Kubernetes would reject."""
    managed: _Managed = {}
    for raw in entries or []:
        if not isinstance(raw, dict) or raw.get("operation") not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        if not raw.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        if raw.get("fieldsType") != "FieldsV1":
            raise ValueError(f"invalid fieldsType {raw.get('fieldsType')!r}")
        entry = _Entry(str(raw.get("manager") or ""), raw["operation"], raw["apiVersion"],
                       str(raw.get("subresource") or ""), raw.get("time"),
                       set(from_fields_v1(raw.get("fieldsV1") or {})))
        managed[entry.key] = entry
    return managed


def _decode_or_empty(entries: Any) -> _Managed:
    try:
        return _decode(entries)
    except (ValueError, TypeError):
        return {}


def _encode(managed: _Managed) -> list[dict[str, Any]]:
    """Entries in Kubernetes' order (operation, time, manager, apiVersion, subresource), empty ones dropped."""
    live = sorted((e for e in managed.values() if e.fields),
                  key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [_encode_entry(e) for e in live]


def _encode_entry(entry: _Entry) -> dict[str, Any]:
    out: dict[str, Any] = {"manager": entry.manager, "operation": entry.operation, "apiVersion": entry.api_version}
    if entry.time:
        out["time"] = entry.time
    out |= {"fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(entry.fields)}
    if entry.subresource:
        out["subresource"] = entry.subresource
    return out


def _managed_fields(obj: dict[str, Any] | None) -> Any:
    return ((obj or {}).get("metadata") or {}).get("managedFields", _MISSING)


def _content(obj: dict[str, Any] | None) -> dict[str, Any]:
    """obj without its managedFields (shallow copies: the input is never mutated)."""
    out = dict(obj or {})
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k != "managedFields"}
    return out


def _record_update(managed: _Managed, old: Any, new: Any, entry: _Entry, now: str) -> bool:
    """Give `entry` what changed from old to new, taking it from every other manager; True if anything did."""
    diff = _compare(old, new)
    changed = _tracked(diff.added | diff.modified, entry.subresource or None)
    removed = _tracked(diff.removed, entry.subresource or None)
    for other in managed.values():
        other.fields -= changed | removed
    if not changed:
        return False
    mine = managed.setdefault(entry.key, entry)
    mine.fields |= changed
    mine.time = now
    return True


# ---------------------------------------------------------------- the two operations


def update(live: dict[str, Any] | None, new: dict[str, Any], manager: str, api_version: str,
           subresource: str | None, now: str) -> list[dict[str, Any]]:
    """managedFields after a create/update/patch by `manager`: it owns what it changed, the others lose it.

    `[]` means the object carries no managedFields. As Kubernetes: a client may replace managedFields on the
    main resource (`[]` or `[{}]` clears them); an existing object without any stays untracked until an apply.
    """
    managed = _base(live, new, subresource)
    if not managed and live is not None:
        return []
    entry = _Entry(manager, "Update", api_version, subresource or "", None, set())
    _record_update(managed, _content(live), _content(new), entry, now)
    return _encode(managed)


def _base(live: dict[str, Any] | None, new: dict[str, Any], subresource: str | None) -> _Managed:
    """The managedFields a write starts from: the request's when it sets them, else the live object's."""
    sent = _managed_fields(new)
    if subresource is None and sent is not _MISSING and sent is not None:
        if sent == [] or sent == [{}]:
            return {}
        try:
            if requested := _decode(sent):
                return requested
        except (ValueError, TypeError):
            pass
    live_entries = _managed_fields(live)
    return _decode_or_empty(None if live_entries is _MISSING else live_entries)


def apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str, api_version: str, force: bool,
          now: str, subresource: str | None = None) -> dict[str, Any]:
    """The object after `manager` applies `config`, with its managedFields; Conflict (409) unless `force`.

    The config is merged in (maps per key, keyed lists per item, atomic values replaced); what the manager
    applied last time, left out now, and nobody else owns is removed; the manager's Apply entry becomes exactly
    the config's fields. Fields the config sets to their live value are shared, never a conflict.
    """
    base = _content(live)
    entries = _managed_fields(live)
    managed = _decode_or_empty(None if entries is _MISSING else entries)
    if live is not None and not managed:
        _record_update(managed, {}, base, _Entry(_BEFORE_FIRST_APPLY, "Update", api_version, "", None, set()), now)
    scoped = _scope(_content(config), subresource)
    entry = _Entry(manager, "Apply", api_version, subresource or "", None, _tracked(fields_of(scoped), subresource))
    previous = managed.pop(entry.key, None)
    merged = _merge("", "", base, scoped)
    owned = set(entry.fields).union(*(e.fields for e in managed.values()))
    result = _prune(merged, previous.fields if previous else set(), owned)
    _settle(managed, base, result, entry, force)
    changed = not _same(base, result)
    entry.time = now if changed or previous is None else previous.time
    managed[entry.key] = entry
    return _with_managed(result, _encode(managed))


def _scope(config: dict[str, Any], subresource: str | None) -> dict[str, Any]:
    """The part of a config this (sub)resource writes: its status, or everything but status."""
    if subresource == "status":
        return {"status": config["status"]} if "status" in config else {}
    return {k: v for k, v in config.items() if k != "status"}


def _settle(managed: _Managed, live: dict[str, Any], result: dict[str, Any], entry: _Entry, force: bool) -> None:
    """Raise the conflicts with other managers, or (forced) take their fields; drop what no longer exists."""
    diff = _compare(live, result)
    changed = _tracked(diff.added | diff.modified, entry.subresource or None)
    conflicts = {key: other.fields & changed for key, other in managed.items() if other.fields & changed}
    if conflicts and not force:
        raise _conflict_error([managed[key] for key in sorted(conflicts)], conflicts)
    for other in managed.values():
        other.fields -= changed | diff.removed


def _conflict_error(owners: list[_Entry], conflicts: dict[Any, set[Path]]) -> errors.Conflict:
    """Kubernetes' apply conflict: 409 Conflict, one FieldManagerConflict cause per field."""
    pairs = [(owner, path) for owner in owners for path in _iterate(_tree(conflicts[owner.key]))]
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {owner.describe()}",
               "field": path_string(path)} for owner, path in pairs]
    if len(pairs) == 1:
        owner, path = pairs[0]
        return errors.Conflict(f"Apply failed with 1 conflict: conflict with {owner.describe()}: "
                               f"{path_string(path)}", causes=causes)
    lines = []
    for owner in owners:
        lines.append(f"conflicts with {owner.describe()}:")
        lines += [f"- {path_string(path)}" for who, path in pairs if who is owner]
    return errors.Conflict(f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines), causes=causes)


def _with_managed(obj: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    metadata.pop("managedFields", None)
    if entries:
        metadata["managedFields"] = entries
    return {**obj, "metadata": metadata} if metadata or "metadata" in obj else obj


# ---------------------------------------------------------------- merging and pruning


def _merge(parent: str, field: str, live: Any, config: Any) -> Any:
    """config merged into live: maps per key (null removes), keyed lists per item, atomic values replaced."""
    kind = _pair_kind(parent, field, live, config)
    if kind == "map":
        out = dict(live) if isinstance(live, dict) else {}
        for key, value in config.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(field, key, out.get(key, _MISSING), value)
        return out
    if kind in ("keyed", "set"):
        out_items = dict(_children(parent, field, kind, live))
        for pe, (_, _, item) in _children(parent, field, kind, config).items():
            old = out_items[pe][2] if pe in out_items else _MISSING
            out_items[pe] = (parent, field, _merge(parent, field, old, item) if kind == "keyed" else item)
        return [copy.deepcopy(v) for _, _, v in out_items.values()]
    return copy.deepcopy(config)


def _prefixes(paths: set[Path]) -> set[Path]:
    return {path[:i] for path in paths for i in range(len(path))}


def _prune(merged: dict[str, Any], last: set[Path], owned: set[Path]) -> dict[str, Any]:
    """merged without what the applier applied last time and nobody owns now (SMD's prune)."""
    if not last - owned:
        return merged
    pruned = _prune_at((), "", "", merged, last, _prefixes(last), owned, _prefixes(owned))
    return pruned if isinstance(pruned, dict) else {}


def _prune_at(path: Path, parent: str, field: str, value: Any, last: set[Path], last_prefixes: set[Path],
              owned: set[Path], owned_prefixes: set[Path]) -> Any:
    kind = _kind(parent, field, value)
    if kind not in ("map", "keyed", "set"):
        return value
    kept: list[tuple[str, Any]] = []
    changed = False
    for pe, (cparent, cfield, cvalue) in _children(parent, field, kind, value).items():
        child = (*path, pe)
        # A map field stays while someone owns something below it; a list item only if someone owns the item.
        if child in last and child not in owned and (kind != "map" or child not in owned_prefixes):
            changed = True
            continue
        if child in last_prefixes:
            pruned = _prune_at(child, cparent, cfield, cvalue, last, last_prefixes, owned, owned_prefixes)
            changed = changed or pruned is not cvalue
            cvalue = pruned
        if cvalue is not _MISSING:
            kept.append((cfield, cvalue))
    if not changed:
        return value
    if not kept:
        return _MISSING  # emptied by pruning: gone, as in SMD
    return dict(kept) if kind == "map" else [v for _, v in kept]
