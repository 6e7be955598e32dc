"""The strict form parser and client authentication extraction, including property tests."""

from __future__ import annotations

import base64
import contextlib
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwtkeep.errors import InvalidClient, InvalidRequest
from jwtkeep.server.forms import Form, client_credentials, parse_form

FORM = "application/x-www-form-urlencoded"


def test_parses_and_decodes() -> None:
    form = parse_form(b"grant_type=password&username=al%C3%AFce+x&password=a%2Bb&scope=", FORM)
    assert form.get("grant_type") == "password"
    assert form.get("username") == "alïce x"
    assert form.get("password") == "a+b"
    assert form.get("scope") is None  # empty means omitted (RFC 6749 §3.1)


def test_unknown_parameters_are_ignored_but_not_repeated() -> None:
    assert parse_form(b"grant_type=password&extra=1", FORM).values == {"grant_type": "password"}
    with pytest.raises(InvalidRequest, match="A parameter is repeated"):
        parse_form(b"extra=1&extra=2", FORM)


@pytest.mark.parametrize(
    "content_type",
    [f"{FORM}; charset=UTF-8", f'{FORM};charset="utf-8"', "Application/X-WWW-Form-Urlencoded"],
)
def test_media_type_variants_accepted(content_type: str) -> None:
    assert parse_form(b"grant_type=x", content_type).get("grant_type") == "x"


def test_raw_utf8_is_accepted() -> None:
    assert parse_form("username=zoë".encode(), FORM).get("username") == "zoë"


def test_tab_allowed_in_password_but_not_newline() -> None:
    assert parse_form(b"password=a%09b", FORM).get("password") == "a\tb"
    with pytest.raises(InvalidRequest, match="password"):
        parse_form(b"password=a%0Db", FORM)


def _basic(raw: bytes) -> list[str]:
    return ["Basic " + base64.b64encode(raw).decode()]


def test_basic_credentials_are_form_decoded() -> None:
    creds = client_credentials(_basic(b"my%20app:s%3Acret%2B1"), Form({}))
    assert (creds.client_id, creds.client_secret, creds.method) == (
        "my app",
        "s:cret+1",
        "client_secret_basic",
    )


def test_public_client_and_post_secret() -> None:
    public = client_credentials([], Form({"client_id": "abc"}))
    assert (public.client_id, public.client_secret, public.method) == ("abc", None, "none")
    posted = client_credentials([], Form({"client_id": "abc", "client_secret": "s"}))
    assert posted.method == "client_secret_post"


def test_basic_with_the_same_body_client_id_is_fine_but_not_another() -> None:
    assert client_credentials(_basic(b"abc:s"), Form({"client_id": "abc"})).client_id == "abc"
    with pytest.raises(InvalidRequest):
        client_credentials(_basic(b"abc:s"), Form({"client_id": "xyz"}))


@given(
    body=st.binary(max_size=512),
    content_type=st.one_of(st.none(), st.just(FORM), st.text(max_size=40)),
)
def test_arbitrary_bytes_parse_or_raise_invalid_request(
    body: bytes, content_type: str | None
) -> None:
    try:
        form = parse_form(body, content_type)
    except InvalidRequest:
        return
    for name, value in form.values.items():
        assert value
        assert isinstance(name, str)


@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                ["grant_type", "username", "password", "scope", "client_id", "token", "x"]
            ),
            st.text(max_size=30),
        ),
        max_size=8,
    )
)
def test_encoded_forms_round_trip(pairs: list[tuple[str, str]]) -> None:
    body = urlencode(pairs).encode()
    try:
        form = parse_form(body, FORM)
    except InvalidRequest:
        return  # repeated names, or characters a parameter's grammar forbids
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names))
    for name, value in pairs:
        if name != "x" and value:
            assert form.get(name) == value


@given(header=st.text(max_size=80), body_id=st.one_of(st.none(), st.text(max_size=10)))
def test_arbitrary_authorization_headers(header: str, body_id: str | None) -> None:
    form = Form({"client_id": body_id} if body_id else {})
    with contextlib.suppress(InvalidClient, InvalidRequest):
        client_credentials([header], form)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=2048),
    content_type=st.sampled_from([FORM, "application/json", "text/plain", "", "\x7f"]),
)
async def test_token_endpoint_never_500s(app: FastAPI, body: bytes, content_type: str) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        for path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
            response = await http.post(path, content=body, headers={"Content-Type": content_type})
            assert response.status_code in (400, 401), response.text
            assert response.headers["content-type"] == "application/json"
            assert set(response.json()) <= {"error", "error_description"}
