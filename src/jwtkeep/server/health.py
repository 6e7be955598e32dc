"""Liveness and readiness (Prometheus metrics are on their own listener:
`jwtkeep.server.metrics.MetricsEndpoint`).

- `GET /healthz`: 200 whenever the process answers (liveness: restart me if this fails).
- `GET /readyz`: 200 only if the token store and the database answer and a signing key
  is loaded; else 503 with `Retry-After` (readiness: send no traffic here; DESIGN.md
  "readiness (store reachable)"). Any failure counts as not ready: a probe never 500s.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from jwtkeep.server.errors import render_unavailable
from jwtkeep.server.schemas import StatusBody, problems
from jwtkeep.server.state import StateDep

__all__ = ["healthz", "readyz", "router"]

router = APIRouter(tags=["operations"])
_log = structlog.get_logger("jwtkeep.server")


@router.get("/healthz", response_model=StatusBody, responses=problems(400),
            summary="Liveness")  # fmt: skip
async def healthz() -> StatusBody:
    return StatusBody(status="ok")


@router.get("/readyz", response_model=StatusBody, responses=problems(400, 503),
            summary="Readiness: store, database and signing key")  # fmt: skip
async def readyz(state: StateDep) -> Response:
    runtime = state.runtime
    if runtime is None:
        return render_unavailable("/readyz")
    try:
        await runtime.context.store.ping()
        await runtime.database.ping()
        (await runtime.context.keys.ring()).signer(runtime.context.clock())
    except Exception as exc:  # noqa: BLE001 (not ready, whatever the reason; never a 500)
        _log.warning("readiness.failed", reason=type(exc).__name__)
        return render_unavailable("/readyz")
    return JSONResponse({"status": "ready"})


# RFC 9110 §9.3.2: HEAD wherever GET (monitors and load balancers probe with it); the
# same handler, left out of the OpenAPI document (it would repeat the GET operation).
for _path, _handler in (("/healthz", healthz), ("/readyz", readyz)):
    router.add_api_route(_path, _handler, methods=["HEAD"], include_in_schema=False)
