"""JSON replies as Kubernetes writes them, and the Warning header, for every router of the apiserver."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response

from kube import fastjson

__all__ = ["json_response", "warning_header"]

#: Kubernetes' limits on one warning and on all of a response's warnings (k8s.io/apiserver/pkg/warning)
_WARNING_MAX_CHARS = 4096
_WARNINGS_MAX_CHARS = 65536


def warning_header(warnings: list[str]) -> str:
    """The Warning header (RFC 7234 code 299) for `warnings`: each text quoted with every non-ASCII or
    control character escaped, so any field name a client sent encodes, and cut to Kubernetes' sizes."""
    out: list[str] = []
    total = 0
    for text in dict.fromkeys(warnings):  # de-duplicated, in order
        if len(text) > _WARNING_MAX_CHARS:
            text = text[:_WARNING_MAX_CHARS] + "..."
        value = "299 - " + json.dumps(text, ensure_ascii=True)
        total += len(value)
        if total > _WARNINGS_MAX_CHARS:
            break
        out.append(value)
    return ", ".join(out)


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> Response:
    headers = {"Warning": warning_header(warnings)} if warnings else None
    # Go's json.Encoder, which Kubernetes answers with, ends every document with a newline.
    return Response(fastjson.dumps_line(body), status_code=status, media_type="application/json", headers=headers)
