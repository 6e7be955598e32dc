"""A browser, as far as the in-process tests need one: follow the authorization code flow
by hand through `/oauth/authorize`, the login and consent forms, to the code.

The cookie jar of the `httpx.AsyncClient` (base URL https://testserver) plays the
browser's: the `__Host-` cookies are Secure, so the base URL must be https.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.server.conftest import PASSWORD, USERNAME

REDIRECT_URI = "https://app.example/callback"
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Flow:
    """One authorization request's parameters."""

    client_id: str
    redirect_uri: str = REDIRECT_URI
    scope: str = "openid read"
    state: str = "state-123"
    nonce: str = "nonce-456"
    verifier: str = "v" * 20 + "erifier-with-enough-entropy-0123456789"
    extra: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        values = {
            "response_type": "code", "client_id": self.client_id,
            "redirect_uri": self.redirect_uri, "scope": self.scope, "state": self.state,
            "nonce": self.nonce, "code_challenge": challenge_of(self.verifier),
            "code_challenge_method": "S256",
        }  # fmt: skip
        values.update(self.extra)
        return {k: v for k, v in values.items() if v}

    def url(self) -> str:
        return f"/oauth/authorize?{urlencode(self.params())}"


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def follow(client: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    """Follow one 303 back to /oauth/authorize (same origin)."""
    assert response.status_code == 303, response.text
    return await client.get(response.headers["location"])


async def sign_in(
    client: httpx.AsyncClient, page: httpx.Response, username: str = USERNAME,
    password: str = PASSWORD,
) -> httpx.Response:  # fmt: skip
    """Post the login form shown in `page`; the answer (303 on success)."""
    assert page.status_code == 200, page.text
    assert 'name="username"' in page.text, page.text
    fields = hidden_fields(page.text)
    return await client.post("/login", data={**fields, "username": username,
                                             "password": password})  # fmt: skip


async def consent(client: httpx.AsyncClient, page: httpx.Response, decision: str = "allow"
                  ) -> httpx.Response:  # fmt: skip
    assert "Allow access" in page.text, page.text
    return await client.post("/consent", data={**hidden_fields(page.text), "decision": decision})


async def code_for(client: httpx.AsyncClient, flow: Flow, *, first_party: bool = False) -> str:
    """The whole front channel: authorize, sign in (if needed), consent (if needed)."""
    response = await client.get(flow.url())
    if response.status_code == 200 and 'name="password"' in response.text:
        response = await follow(client, await sign_in(client, response))
    if response.status_code == 200 and "Allow access" in response.text:
        assert not first_party
        response = await follow(client, await consent(client, response))
    params = redirect_params(response)
    assert params["state"] == flow.state
    return params["code"]


async def exchange(client: httpx.AsyncClient, flow: Flow, code: str, **extra: str
                   ) -> httpx.Response:  # fmt: skip
    form: dict[str, Any] = {
        "grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
        "client_id": flow.client_id, "code_verifier": flow.verifier, **extra,
    }  # fmt: skip
    return await client.post("/oauth/token", data={k: v for k, v in form.items() if v})
