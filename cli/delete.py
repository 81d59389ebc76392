"""`klite delete`: by name, by manifest (`-f`), or by label selector (`-l`, `--all`), then wait until gone.

Like kubectl, waiting is the default: a scheduled Pod stays (Terminating) until its kubelet has stopped the
containers, and a script that deletes then re-creates must not race that. Waiting polls the object until it
answers 404 or comes back with another uid (it was re-created), bounded by `--timeout`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from cli import manifests
from cli.context import CliError, Session, api_error_message, err, resolve_type, type_prefix
from cli.get import parse_targets
from kube import errors, resources
from kube.resources import ResourceType

__all__ = ["DeleteOptions", "Target", "delete", "grace_seconds"]

POLL = 0.25


@dataclass(frozen=True)
class DeleteOptions:
    selector: str | None = None
    all_objects: bool = False
    grace_period: int = -1
    force: bool = False
    wait: bool = True
    timeout: float = 60.0
    ignore_not_found: bool = False


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    name: str
    namespace: str | None


def grace_seconds(grace_period: int, force: bool) -> int | None:
    """kubectl's rule: -1 leaves the object's own period; 0 means "at once" only with --force, else 1."""
    if grace_period < 0:
        return 0 if force else None
    if grace_period == 0 and not force:
        return 1
    return grace_period


def _ns(session: Session, rt: ResourceType) -> str | None:
    return session.namespace if rt.namespaced else None


async def _targets(session: Session, args: list[str], docs: list[manifests.Document] | None,
                   opts: DeleteOptions) -> tuple[list[Target], bool]:
    """What to delete, and whether some document could not be resolved."""
    bad = False
    if docs is not None:
        if args:
            raise CliError("when paths are given, resource types and names cannot be used")
        targets = []
        for doc in docs:
            obj = doc.obj
            rt = resources.by_kind(str(obj.get("apiVersion")), str(obj.get("kind"))) if obj else None
            name = ((obj or {}).get("metadata") or {}).get("name")
            if obj is None or rt is None or not name:
                reason = doc.error or ("no name" if rt else f'no matches for kind "{(obj or {}).get("kind")}"')
                err(f"error: {doc.where}: {reason}")
                bad = True
                continue
            declared = (obj.get("metadata") or {}).get("namespace")
            targets.append(Target(rt, name, (declared or session.namespace) if rt.namespaced else None))
        return targets, bad
    if not args:
        raise CliError("You must provide one or more resources by argument or filename.")
    if opts.selector is not None or opts.all_objects:
        if len(args) != 1 or "/" in args[0]:
            raise CliError("name cannot be provided when a selector or --all is specified")
        targets = []
        for kind in args[0].split(","):
            rt = resolve_type(kind)
            listed = await session.client.list(rt, _ns(session, rt), label_selector=opts.selector)
            targets += [Target(rt, o["metadata"]["name"], _ns(session, rt)) for o in listed.get("items") or []]
        return targets, bad
    requests = parse_targets(args)
    if not any(r.names for r in requests):
        raise CliError(f'resource(s) were provided, but no name was specified; use -l or --all to delete '
                       f'every "{args[0]}"')
    return [Target(r.rt, name, _ns(session, r.rt)) for r in requests for name in r.names], bad


async def _gone(session: Session, target: Target, uid: str | None) -> bool:
    try:
        obj = await session.client.get(target.rt, target.name, target.namespace)
    except errors.NotFound:
        return True
    return bool(uid) and (obj.get("metadata") or {}).get("uid") != uid


async def delete(session: Session, args: list[str], docs: list[manifests.Document] | None,
                 opts: DeleteOptions) -> int:
    """Delete, print `pod "demo" deleted` per object, wait; 1 if anything failed or was missing."""
    targets, failed = await _targets(session, args, docs, opts)
    if not targets and not failed and (opts.selector is not None or opts.all_objects):
        where = f" in {session.namespace} namespace" if any(resolve_type(k).namespaced
                                                           for k in args[0].split(",")) else ""
        err(f"No resources found{where}")
    grace = grace_seconds(opts.grace_period, opts.force)
    if opts.force and grace == 0:
        err("Warning: Immediate deletion does not wait for confirmation that the running resource has been "
            "terminated. The resource may continue to run on the cluster indefinitely.")
    pending: list[tuple[Target, Any]] = []
    for target in targets:
        try:
            result = await session.client.delete(target.rt, target.name, target.namespace,
                                                 grace_period_seconds=grace, propagation_policy="Background")
        except errors.NotFound as exc:
            if not opts.ignore_not_found:
                err(api_error_message(exc))
                failed = True
            continue
        except errors.ApiError as exc:
            err(api_error_message(exc))
            failed = True
            continue
        print(f'{type_prefix(target.rt)} "{target.name}" deleted', flush=True)
        uid = ((result or {}).get("metadata") or {}).get("uid") if isinstance(result, dict) else None
        pending.append((target, uid))
    if opts.wait and pending and not await _wait(session, pending, opts.timeout):
        failed = True
    return 1 if failed else 0


async def _wait(session: Session, pending: list[tuple[Target, Any]], timeout: float) -> bool:
    """True when every object is gone in time; else print kubectl's timeout error per object left."""
    deadline = time.monotonic() + timeout
    left = list(pending)
    while left:
        left = [(t, uid) for t, uid in left if not await _gone(session, t, uid)]
        if not left:
            return True
        if time.monotonic() >= deadline:
            for target, _ in left:
                err(f"error: timed out waiting for the condition on {target.rt.qualified}/{target.name}")
            return False
        await asyncio.sleep(POLL)
    return True
