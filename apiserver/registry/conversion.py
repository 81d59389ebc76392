"""A resource type served over another one's storage, with a conversion: Kubernetes' cohabiting resources.

Kubernetes serves events.k8s.io/v1 Events from the core/v1 Events' storage: one etcd prefix, one watch cache, one
set of objects, each converted between the two versions on the way in and out (pkg/apis/events/v1/conversion.go).
A `Conversion` says the same here: which resource type's storage the served one shares, and how an object turns
from one form into the other.

The generic registry (`apiserver.rest`) applies it at its edges and nowhere else: a decoded body is converted to
the storage form before admission, validation and the write, so the served type's Strategy validates and stores the
storage form (as Kubernetes' strategies see the internal version); every object it hands back (get, list, watch
events, the result of a write) is converted to the served form, and field selectors match that served form; a patch
or an apply is applied to the served form, and managedFields record the served version's fields under its
apiVersion. The served type gets no watch cache of its own: it reads the storage type's. Conversions are listed in
`apiserver.registry.CONVERSIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kube.resources import ResourceType

__all__ = ["Conversion"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class Conversion:
    """`storage`: the resource type whose etcd keys and watch cache are used. Both functions return new objects
    and leave their argument as it is (cached objects are shared by every watcher)."""

    storage: ResourceType
    to_storage: Callable[[Obj], Obj]
    from_storage: Callable[[Obj], Obj]

    def served(self, obj: Obj | None) -> Obj | None:
        """`from_storage`, passing None (a watch event's missing side) through."""
        return None if obj is None else self.from_storage(obj)
