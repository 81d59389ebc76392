"""Structured log lines (logfmt) on stderr, the same shape for every daemon."""

from __future__ import annotations

import logging
import sys
import time

__all__ = ["setup"]


class _LogfmtFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        msg = record.getMessage().replace('"', "'")
        line = (f'ts={ts} level={record.levelname.lower()} component={self.component} '
                f'logger={record.name} msg="{msg}"')
        if record.exc_info:
            line += ' exc="' + self.formatException(record.exc_info).replace("\n", "\\n").replace('"', "'") + '"'
        return line


def setup(component: str, level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogfmtFormatter(component))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "docker", "urllib3", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
