"""The admission interface and the chain that runs plugins in order (Kubernetes' admission.Interface)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from apiserver.authn.user import UserInfo
from kube.resources import ResourceType

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["Attributes", "Chain", "Operation", "Plugin"]

Obj = dict[str, Any]
Operation = Literal["CREATE", "UPDATE", "DELETE"]


@dataclass
class Attributes:
    """What a plugin knows about one write. `obj` is the object to be stored (None for DELETE), `old`
    the stored one (None for CREATE); a mutating plugin changes `obj` in place. A plugin appends to
    `warnings` what the response's Warning headers should say (Kubernetes' warning.AddWarning)."""

    operation: Operation
    resource: ResourceType
    namespace: str | None
    name: str
    obj: Obj | None
    old: Obj | None = None
    subresource: str | None = None
    dry_run: bool = False
    user: UserInfo | None = None  # None: the apiserver's own writes (bootstrap, repair)
    warnings: list[str] = field(default_factory=list)


class Plugin:
    """One admission plugin: override what it does; every hook is a no-op by default."""

    name = "plugin"

    async def start(self, registry: Registry) -> None:
        """Begin whatever the plugin follows (an informer-like index); called once the registry is up."""

    async def stop(self) -> None:
        """Stop what `start` began."""

    async def admit(self, attrs: Attributes) -> None:
        """Mutating phase: may change `attrs.obj`; raise an ApiError to refuse."""

    async def validate(self, attrs: Attributes) -> None:
        """Validating phase: may only refuse (raise an ApiError)."""

    def observe(self, resource: ResourceType, stored: Obj) -> None:
        """A write by this apiserver was committed (not called for dry runs)."""


class Chain:
    def __init__(self, plugins: list[Plugin]) -> None:
        self.plugins = list(plugins)

    async def start(self, registry: Registry) -> None:
        for plugin in self.plugins:
            await plugin.start(registry)

    async def stop(self) -> None:
        for plugin in reversed(self.plugins):
            await plugin.stop()

    async def admit(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            await plugin.admit(attrs)

    async def validate(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            await plugin.validate(attrs)

    def observe(self, resource: ResourceType, stored: Obj) -> None:
        for plugin in self.plugins:
            plugin.observe(resource, stored)
