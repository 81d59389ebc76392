"""`klite api-resources`: the resource types of `kube.resources`, in kubectl's columns.

Read from the shared table rather than the server's discovery, because that table is what klite itself
uses to turn a typed name (`po`, `deploy`) into a URL: it shows exactly what klite understands.
"""

from __future__ import annotations

from kube import resources

__all__ = ["render"]


def render(output: str = "") -> str:
    """The table (or, with `-o name`, `plural.group` lines) sorted by name like kubectl."""
    types = sorted(resources.RESOURCES, key=lambda r: (r.plural, r.group))
    if output == "name":
        return "\n".join(f"{r.plural}.{r.group}" if r.group else r.plural for r in types)
    header = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    if output == "wide":
        header.append("VERBS")
    rows = [header]
    for r in types:
        row = [r.plural, ",".join(r.short_names), r.api_version, str(r.namespaced).lower(), r.kind]
        if output == "wide":
            row.append(",".join(r.verbs))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(("".join(c.ljust(widths[i] + 3) for i, c in enumerate(row[:-1])) + row[-1]).rstrip()
                     for row in rows)
