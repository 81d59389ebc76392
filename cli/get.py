"""`klite get`: list or fetch objects of any type `kube.resources` knows, printed as kubectl would.

Arguments take kubectl's forms: `TYPE`, `TYPE NAME...`, `TYPE1,TYPE2`, `TYPE/NAME...`. With `-w` the
listing continues with one row per change, from the list's resourceVersion so nothing is missed or repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cli import printing
from cli.context import CliError, Session, api_error_message, err, resolve_type
from kube import errors, resources
from kube.resources import ResourceType

__all__ = ["GetOptions", "Request", "get", "parse_targets"]

Obj = dict[str, Any]


@dataclass
class Request:
    """One resource type and the names asked for (empty: list them all)."""

    rt: ResourceType
    names: list[str] = field(default_factory=list)
    optional: bool = False  # came from a category (`all`): a type this server does not serve is skipped


@dataclass(frozen=True)
class GetOptions:
    output: str | None = None
    all_namespaces: bool = False
    selector: str | None = None
    field_selector: str | None = None
    watch: bool = False
    show_labels: bool = False


def parse_targets(args: list[str]) -> list[Request]:
    """kubectl's argument grammar for get/describe/delete, resolved through the resource table."""
    if not args:
        raise CliError('You must specify the type of resource to get. Use "klite api-resources" for a complete '
                       "list of supported resources.")
    if "/" in args[0]:
        requests: dict[ResourceType, Request] = {}
        for arg in args:
            kind, slash, name = arg.partition("/")
            if not slash or not name:
                raise CliError(f"there is no need to specify a resource type as a separate argument when passing "
                               f"arguments in resource/name form (e.g. 'klite get resource/<resource_name>' instead "
                               f"of 'klite get resource resource/<resource_name>'): {arg!r}")
            rt = resolve_type(kind)
            requests.setdefault(rt, Request(rt)).names.append(name)
        return list(requests.values())
    if any("/" in a for a in args[1:]):
        raise CliError("there is no need to specify a resource type as a separate argument when passing arguments "
                       "in resource/name form")
    found: list[Request] = []
    for typed in (t for t in args[0].split(",") if t):
        members = [r for r in resources.RESOURCES if typed.lower() in r.categories]
        if resources.lookup(typed) is None and members:
            found += [Request(rt, list(args[1:]), optional=True) for rt in members]
        else:
            found.append(Request(resolve_type(typed), list(args[1:])))
    return found


def _namespace(session: Session, rt: ResourceType, all_namespaces: bool) -> str | None:
    return None if not rt.namespaced or all_namespaces else session.namespace


async def _fetch(session: Session, req: Request, opts: GetOptions) -> tuple[list[Obj], str, bool]:
    """The objects of one request, the list's resourceVersion, and whether a named object was missing."""
    namespace = _namespace(session, req.rt, opts.all_namespaces)
    if not req.names:
        try:
            result = await session.client.list(req.rt, namespace, label_selector=opts.selector,
                                               field_selector=opts.field_selector)
        except errors.NotFound:
            if not req.optional:
                raise
            return [], "", False
        rv = (result.get("metadata") or {}).get("resourceVersion") or ""
        return list(result.get("items") or []), rv, False
    found, missing = [], False
    for name in req.names:
        try:
            found.append(await session.client.get(req.rt, name, namespace))
        except errors.NotFound as exc:
            err(api_error_message(exc))
            missing = True
    return found, "", missing


def _nothing_found(session: Session, requests: list[Request], opts: GetOptions) -> str:
    if opts.all_namespaces or not any(r.rt.namespaced for r in requests):
        return "No resources found"
    return f"No resources found in {session.namespace} namespace."


async def get(session: Session, args: list[str], opts: GetOptions) -> int:
    """Print what was asked for; 1 when a named object was not found."""
    if opts.output and opts.output not in printing.OUTPUTS:
        raise CliError(f'unable to match a printer suitable for the output format "{opts.output}", allowed formats '
                       f"are: {','.join(printing.OUTPUTS)}")
    requests = parse_targets(args)
    named = any(r.names for r in requests)
    if named and opts.all_namespaces and any(r.rt.namespaced for r in requests):
        raise CliError("a resource cannot be retrieved by name across all namespaces")
    if named and (opts.selector or opts.field_selector):
        raise CliError("when paths, URLs, or names are given, selectors cannot be used")
    if opts.watch and len(requests) != 1:
        raise CliError("you may only specify a single resource type with --watch")
    results = []
    missing = False
    for req in requests:
        objects, rv, lost = await _fetch(session, req, opts)
        missing = missing or lost
        results.append((req, objects, rv))
    output = opts.output or ""
    total = sum(len(objects) for _, objects, _ in results)

    if output in ("yaml", "json"):
        items = [printing.with_type(req.rt, obj) for req, objects, _ in results for obj in objects]
        single = len(requests) == 1 and len(requests[0].names) == 1 and len(items) == 1
        if items or not named:
            print(printing.dump(items[0] if single else printing.as_list(items), output))
    elif output == "name":
        for req, objects, _ in results:
            for obj in objects:
                print(printing.name_of(req.rt, obj))
    else:
        blocks = []
        for req, objects, _ in results:
            if not objects:
                continue
            table = printing.Table(req.rt, wide=output == "wide", show_labels=opts.show_labels,
                                   with_namespace=opts.all_namespaces and req.rt.namespaced,
                                   with_kind=len(requests) > 1)
            blocks.append(table.render(objects))
        if blocks:
            print("\n\n".join(blocks), flush=True)
    if total == 0 and not named and output not in ("yaml", "json") and not opts.watch:
        err(_nothing_found(session, requests, opts))
    if opts.watch:
        req, objects, rv = results[0]
        await _watch(session, req, objects, rv, opts)
    return 1 if missing else 0


async def _watch(session: Session, req: Request, initial: list[Obj], rv: str, opts: GetOptions) -> None:
    """Print one row (or object) per change until interrupted; a closed stream is resumed where it ended."""
    output = opts.output or ""
    table = printing.Table(req.rt, wide=output == "wide", show_labels=opts.show_labels,
                           with_namespace=opts.all_namespaces and req.rt.namespaced)
    headers_printed = bool(initial)
    if initial:
        table.format([table.header()] + [table.row(o) for o in initial])  # remember the widths already printed
    field_selector = opts.field_selector
    if req.names:
        field_selector = f"metadata.name={req.names[0]}"
        rv = str(max((int(o["metadata"].get("resourceVersion") or 0) for o in initial), default=0) or "")
    namespace = _namespace(session, req.rt, opts.all_namespaces)
    while True:
        try:
            rv = await _follow(session, req, namespace, rv, field_selector, opts, table, headers_printed)
        except errors.Gone:  # the resourceVersion was compacted away: start again from now, as kubectl does
            listed = await session.client.list(req.rt, namespace, label_selector=opts.selector,
                                               field_selector=field_selector, limit=1)
            rv = (listed.get("metadata") or {}).get("resourceVersion") or ""
        headers_printed = headers_printed or bool(table.widths)


async def _follow(session: Session, req: Request, namespace: str | None, rv: str, field_selector: str | None,
                  opts: GetOptions, table: printing.Table, headers_printed: bool) -> str:
    """Print the events of one watch stream; the last resourceVersion seen when the server ends it."""
    output = opts.output or ""
    async for kind, obj in session.client.watch(req.rt, namespace, resource_version=rv or None,
                                                 label_selector=opts.selector, field_selector=field_selector,
                                                 timeout_seconds=300):
        rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
        if kind == "BOOKMARK":
            continue
        if output in ("yaml", "json"):
            text = printing.dump(printing.with_type(req.rt, obj), output)
            print(text + ("\n---" if output == "yaml" else ""), flush=True)
        elif output == "name":
            print(printing.name_of(req.rt, obj), flush=True)
        else:
            rows = ([] if headers_printed else [table.header()]) + [table.row(obj)]
            headers_printed = True
            print("\n".join(table.format(rows)), flush=True)
    return rv
