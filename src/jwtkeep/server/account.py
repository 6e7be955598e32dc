"""The user's own account: userinfo, logout, sessions, password change, self-registration.

Every route but `POST /users` needs a bearer access token for the account API: its
audience is the issuer URL and its scope holds `account` (`openid` suffices for
`/userinfo`); see `jwtkeep.server.account_auth`.
Errors are RFC 9457 problem details; bearer errors keep their RFC 6750 challenge.

- `GET /userinfo` (OIDC Core §5.3): `sub` and `preferred_username` only, the user's own
  data; never a password hash or anything else from the user record. A token whose `sub`
  is not a live user (a client_credentials token, a disabled user) is `invalid_token`.
- Logout ends this session, logout-all every session of the user and every login session
  (the browser sign-ins at the issuer) (the article: logout that really logs out); both 204.
- Sessions are listed without token material and without IP addresses: any account
  token of the user can read this list, and IP history is personal data the audit trail
  keeps server-side. Ending a session that is not the user's is 404, like an unknown one.
- A password change checks the current password (rate limited like login), then ends
  every other session (DESIGN.md token store contract).
- `POST /users` exists only when `settings.allow_registration` is on (else the route is
  not mounted at all: 404, and absent from the OpenAPI document); it is rate limited per
  client IP, as each call hashes a password with argon2id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse, Response

from jwtkeep.errors import InvalidToken, NotFound
from jwtkeep.ports import Session
from jwtkeep.server.account_auth import AccountClaimsDep, UserInfoClaimsDep
from jwtkeep.server.client_ip import request_info
from jwtkeep.server.schemas import (
    PasswordChangeRequest,
    RegistrationRequest,
    RegistrationResponse,
    SessionBody,
    UserInfoBody,
    problems,
)
from jwtkeep.server.state import RuntimeDep, StateDep
from jwtkeep.usecases.registration import create_user
from jwtkeep.usecases.sessions import (
    change_password,
    end_one_session,
    list_sessions,
    logout,
    logout_all,
)

__all__ = [
    "MAX_SID",
    "end_session_route",
    "logout_all_route",
    "logout_route",
    "password_route",
    "register",
    "registration_router",
    "router",
    "sessions_route",
    "userinfo",
]

router = APIRouter(tags=["account"])
registration_router = APIRouter(tags=["account"])  # mounted only if registration is on
_BEARER_ERRORS = problems(400, 401, 403, 503)
_NO_CONTENT: dict[int | str, dict[str, Any]] = {204: {"description": "done"}}
MAX_SID = 128


@router.get("/userinfo", response_model=UserInfoBody, responses=_BEARER_ERRORS,
            summary="The user's own minimal profile (OIDC Core §5.3)")  # fmt: skip
async def userinfo(claims: UserInfoClaimsDep, runtime: RuntimeDep) -> UserInfoBody:
    user = await runtime.context.users.get_user(claims.sub)
    if user is None or user.disabled:
        raise InvalidToken("token subject is not an active user")
    return UserInfoBody(sub=user.id, preferred_username=user.username)


@router.post("/auth/logout", status_code=204, response_class=Response,
             responses={**_NO_CONTENT, **problems(400, 401, 403, 413, 503)},
             summary="End this session")  # fmt: skip
async def logout_route(
    request: Request, claims: AccountClaimsDep, runtime: RuntimeDep, state: StateDep
) -> Response:
    await logout(runtime.context, claims, request_info(request, state.proxies))
    return Response(status_code=204)


@router.post("/auth/logout-all", status_code=204, response_class=Response,
             responses={**_NO_CONTENT, **problems(400, 401, 403, 413, 503)},
             summary="End every session of the user")  # fmt: skip
async def logout_all_route(
    request: Request, claims: AccountClaimsDep, runtime: RuntimeDep, state: StateDep
) -> Response:
    await logout_all(runtime.context, claims.sub, logins=runtime.sign_in.logins,
                     info=request_info(request, state.proxies), jti=claims.jti)  # fmt: skip
    return Response(status_code=204)


def _session_body(session: Session, current_sid: str) -> SessionBody:
    return SessionBody(
        sid=session.sid, client_id=session.client_id, created_at=int(session.created_at),
        last_used_at=int(session.last_used_at), expires_at=int(session.expires_at()),
        user_agent=session.user_agent, current=session.sid == current_sid,
    )  # fmt: skip


@router.get("/auth/sessions", response_model=list[SessionBody], responses=_BEARER_ERRORS,
            summary="The user's live sessions, newest first")  # fmt: skip
async def sessions_route(claims: AccountClaimsDep, runtime: RuntimeDep) -> list[SessionBody]:
    sessions = await list_sessions(runtime.context, claims.sub)
    return [_session_body(session, claims.sid) for session in sessions]


@router.delete("/auth/sessions/{sid}", status_code=204, response_class=Response,
               responses={**_NO_CONTENT, **problems(400, 401, 403, 404, 413, 503)},
               summary="End one of the user's sessions")  # fmt: skip
async def end_session_route(
    request: Request,
    sid: Annotated[str, Path(description="a session id from GET /auth/sessions")],
    claims: AccountClaimsDep,
    runtime: RuntimeDep,
    state: StateDep,
) -> Response:
    if not sid or len(sid) > MAX_SID:
        raise NotFound("no such session")
    await end_one_session(runtime.context, sid, owner=claims.sub, jti=claims.jti,
                          info=request_info(request, state.proxies))  # fmt: skip
    return Response(status_code=204)


@router.post("/auth/password", status_code=204, response_class=Response,
             responses={**_NO_CONTENT, **problems(400, 401, 403, 409, 413, 429, 503)},
             summary="Change the password; ends the user's other sessions")  # fmt: skip
async def password_route(
    request: Request,
    body: PasswordChangeRequest,
    claims: AccountClaimsDep,
    runtime: RuntimeDep,
    state: StateDep,
) -> Response:
    info = request_info(request, state.proxies)
    async with state.limiter.password_check("password", account=claims.sub, ip=info.ip):
        await change_password(
            runtime.context, claims, body.current_password, body.new_password, info
        )
    return Response(status_code=204)


@registration_router.post("/users", status_code=status.HTTP_201_CREATED,
                          response_model=RegistrationResponse,
                          responses=problems(400, 409, 413, 429, 503),
                          summary="Self-registration (only when enabled)")  # fmt: skip
async def register(
    request: Request, body: RegistrationRequest, runtime: RuntimeDep, state: StateDep
) -> JSONResponse:
    info = request_info(request, state.proxies)
    await state.limiter.count_registration(info.ip)
    user = await create_user(runtime.context, body.username, body.password)
    return JSONResponse({"id": user.id}, status_code=201)
