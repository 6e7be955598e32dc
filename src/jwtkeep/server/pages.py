"""The hosted pages (login, consent, messages): Jinja2 templates shipped with the package,
rendered on the server, working without JavaScript.

- Autoescape is on for every template (OWASP XSS Prevention Rule #1): no request value
  reaches a page unescaped.
- Every page carries its own `Content-Security-Policy`: nothing inline (no script at
  all, the one style sheet from the issuer), `frame-ancestors 'none'` and
  `X-Frame-Options: DENY` against clickjacking (RFC 6749 §10.13, RFC 9700 §4.16),
  `form-action` limited to the issuer and the client's redirect origin (a form post
  that ends in the redirect to the client must be allowed, and nothing else).
  `Referrer-Policy: no-referrer` and `Cache-Control: no-store` come from the security
  headers middleware.
- CSRF (OWASP CSRF Prevention, "signed double-submit cookie"): a random pre-login value
  in a `__Host-` cookie (SameSite=Strict), and in every form an HMAC of it under a key
  derived from the master key (`Runtime.form_key`). A post without both, or with a
  token for another cookie, is refused with a 403 page, never a redirect.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from jwtkeep.core.clock import new_id
from jwtkeep.core.redirect_uri import origin_of
from jwtkeep.runtime import Runtime

__all__ = [
    "CSRF_COOKIE",
    "PAGE_CSP",
    "STYLESHEET",
    "csrf_token",
    "form_is_genuine",
    "page",
    "stylesheet",
]

CSRF_COOKIE = "__Host-jwtkeep-csrf"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_ENV = Environment(
    loader=PackageLoader("jwtkeep.server", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
STYLESHEET = resources.files("jwtkeep.server").joinpath("assets/jwtkeep.css").read_bytes()


def _csp(redirect_uri: str | None) -> str:
    if redirect_uri is None:
        return PAGE_CSP
    origin = origin_of(redirect_uri) or redirect_uri.split(":", 1)[0] + ":"
    return f"{PAGE_CSP} {origin}"


def csrf_token(runtime: Runtime, cookie: str) -> str:
    return hmac.new(runtime.form_key, b"csrf|" + cookie.encode(), hashlib.sha256).hexdigest()


def _csrf_cookie(runtime: Runtime, request: Request) -> tuple[str, bool]:
    """The pre-login cookie value, and whether it is new (to be set)."""
    value = request.cookies.get(CSRF_COOKIE)
    if value and len(value) <= 64 and value.isascii():
        return value, False
    return new_id(runtime.context.random, 32), True


def form_is_genuine(runtime: Runtime, request: Request, token: str | None) -> bool:
    """The form's token is the HMAC of this browser's pre-login cookie."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not token or len(token) != 64 or not cookie.isascii():
        return False
    return hmac.compare_digest(csrf_token(runtime, cookie), token)


def page(
    runtime: Runtime,
    request: Request,
    template: str,
    values: Mapping[str, Any],
    *,
    status: int = 200,
    redirect_uri: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render a page with its security headers and, for forms, the CSRF cookie and token."""
    cookie, new = _csrf_cookie(runtime, request)
    html = _ENV.get_template(template).render(**values, csrf=csrf_token(runtime, cookie))
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    response.headers["Content-Security-Policy"] = _csp(redirect_uri)
    response.headers["X-Frame-Options"] = "DENY"
    if new:
        response.set_cookie(
            CSRF_COOKIE,
            cookie,
            secure=True,
            httponly=True,
            samesite="strict",
            path="/",
            max_age=runtime.settings.login_session_ttl,
        )
    return response


def stylesheet() -> Response:
    return Response(
        STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"}
    )
