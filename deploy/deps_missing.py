"""Exit 0 when every dependency pyproject.toml declares (plus the test extra with --test) is installed at a
satisfying version and kubelite itself is installed; else print what is missing and exit 1.

Read from pyproject.toml so that a dependency added there is installed by `deploy/setup.sh` on machines
that set kubelite up before it was added.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement


def missing(with_tests: bool) -> list[str]:
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    if with_tests:
        wanted += project["optional-dependencies"]["test"]
    out = []
    for text in [*wanted, "kubelite"]:
        req = Requirement(text)
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            out.append(text)
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            out.append(f"{text} (have {version})")
    return out


if __name__ == "__main__":
    absent = missing("--test" in sys.argv[1:])
    if absent:
        print("missing: " + ", ".join(absent))
    sys.exit(1 if absent else 0)
