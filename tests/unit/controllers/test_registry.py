"""Every controller written is listed: the registry is a list, so a forgotten line must fail somewhere."""

from __future__ import annotations

import importlib
import pkgutil

import controllers
from controllers.base import Controller
from controllers.registry import CONTROLLERS, available


def _defined() -> set[type[Controller]]:
    found: set[type[Controller]] = set()
    for module in pkgutil.iter_modules(controllers.__path__):
        if module.name in ("main", "__main__"):
            continue
        mod = importlib.import_module(f"controllers.{module.name}")
        found |= {v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, Controller)
                  and v is not Controller and v.__module__ == mod.__name__ and "name" in vars(v)}
    return found


def test_every_controller_class_is_listed_once_under_its_own_name() -> None:
    assert set(CONTROLLERS) == _defined()
    assert len(available()) == len(CONTROLLERS)
    assert all(available()[c.name] is c for c in CONTROLLERS)
