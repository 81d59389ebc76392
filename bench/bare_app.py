"""The baseline bench/api.py compares the apiserver with: a FastAPI endpoint doing one aetcd put per
request, served exactly as the apiserver is (uvicorn, uvloop, httptools, no access log)."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json

import aetcd
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response


def build(etcd_port: int) -> FastAPI:
    client = aetcd.Client(host="127.0.0.1", port=etcd_port)
    counter = itertools.count()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        await client.connect()
        yield
        await client.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/put")
    async def put(request: Request) -> Response:
        body = await request.body()
        await client.put(f"/bench/bare/{next(counter)}".encode(), body)
        return Response(json.dumps({"ok": True}), status_code=201, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response("ok")

    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--etcd-port", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    uvicorn.run(build(a.etcd_port), host="127.0.0.1", port=a.port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools")
