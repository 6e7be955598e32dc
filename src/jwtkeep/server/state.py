"""What every route needs, kept on `app.state.jwtkeep` (no globals, CONVENTIONS "State").

Only what is the HTTP edge's own: its metrics, the trusted proxies, and, once a runtime
is attached, the runtime (everything the use cases need, `jwtkeep.runtime`) with the
login guard over its rate-limit counters. The runtime is attached at once by
`create_app(runtime)`, or in the lifespan by `create_app_from_settings`; a request that
arrives before it is ready is refused with 503 (fail closed), never served
half-configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from jwtkeep.errors import StoreUnavailable
from jwtkeep.runtime import Runtime
from jwtkeep.server.client_ip import TrustedProxies
from jwtkeep.server.metrics import Metrics
from jwtkeep.server.ratelimit import LoginLimiter

__all__ = ["STATE_ATTRIBUTE", "RuntimeDep", "ServerState", "StateDep", "runtime_of", "server_state"]

STATE_ATTRIBUTE = "jwtkeep"
_NOT_READY = "the server is starting or stopping"


@dataclass
class ServerState:
    metrics: Metrics
    proxies: TrustedProxies
    runtime: Runtime | None = None
    _limiter: LoginLimiter | None = field(default=None, repr=False)

    @property
    def limiter(self) -> LoginLimiter:
        if self._limiter is None:
            raise StoreUnavailable(_NOT_READY)
        return self._limiter

    def attach(self, runtime: Runtime, limiter: LoginLimiter) -> None:
        self.runtime, self._limiter = runtime, limiter

    def detach(self) -> None:
        self.runtime, self._limiter = None, None


def server_state(request: Request) -> ServerState:
    state = getattr(request.app.state, STATE_ATTRIBUTE, None)
    assert isinstance(state, ServerState), "create the app with jwtkeep.server.create_app"
    return state


def runtime_of(request: Request) -> Runtime:
    runtime = server_state(request).runtime
    if runtime is None:
        raise StoreUnavailable(_NOT_READY)
    return runtime


StateDep = Annotated[ServerState, Depends(server_state)]
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
