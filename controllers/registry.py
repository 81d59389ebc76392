"""Which controllers exist: every `Controller` subclass defined in a module of this package, by name.

Discovered rather than listed, so adding a controller is adding its module.
"""

from __future__ import annotations

import importlib
import pkgutil

import controllers
from controllers.base import Controller

__all__ = ["available"]

_FRAMEWORK = {"base", "claim", "context", "expectations", "main", "podutil", "registry", "__main__"}


def available() -> dict[str, type[Controller]]:
    found: dict[str, type[Controller]] = {}
    for module in pkgutil.iter_modules(controllers.__path__):
        if module.name in _FRAMEWORK:
            continue
        mod = importlib.import_module(f"controllers.{module.name}")
        for value in vars(mod).values():
            if isinstance(value, type) and issubclass(value, Controller) and value.__module__ == mod.__name__ \
                    and "name" in vars(value):
                found[value.name] = value
    return dict(sorted(found.items()))
