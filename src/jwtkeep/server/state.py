"""What every route needs, kept on `app.state.jwtkeep` (no globals, CONVENTIONS "State").

The runtime is set at once by `create_app(runtime)`, or in the lifespan by
`create_app_from_settings`; a request that arrives before it is ready is refused with 503
(fail closed), never served half-configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from jwtkeep.errors import StoreUnavailable
from jwtkeep.runtime import Runtime
from jwtkeep.server.client_ip import TrustedProxies
from jwtkeep.server.metrics import Metrics
from jwtkeep.server.ratelimit import LoginLimiter
from jwtkeep.settings import Settings

__all__ = ["STATE_ATTRIBUTE", "RuntimeDep", "ServerState", "StateDep", "runtime_of", "server_state"]

STATE_ATTRIBUTE = "jwtkeep"


@dataclass
class ServerState:
    settings: Settings
    limiter: LoginLimiter
    metrics: Metrics
    proxies: TrustedProxies
    runtime: Runtime | None = None


def server_state(request: Request) -> ServerState:
    state = getattr(request.app.state, STATE_ATTRIBUTE, None)
    assert isinstance(state, ServerState), "create the app with jwtkeep.server.create_app"
    return state


def runtime_of(request: Request) -> Runtime:
    runtime = server_state(request).runtime
    if runtime is None:
        raise StoreUnavailable("the server is starting or stopping")
    return runtime


StateDep = Annotated[ServerState, Depends(server_state)]
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
