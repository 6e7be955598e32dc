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
from jwtkeep.server.forms import GRAMMAR, Form, client_credentials, parse_form

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
    with pytest.raises(InvalidRequest, match="Use one client authentication method"):
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


ENDPOINTS = ("/oauth/token", "/oauth/revoke", "/oauth/introspect")
FUZZ = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])


async def post_each(app: FastAPI, body: bytes, content_type: str) -> dict[str, httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        answers = {}
        for path in ENDPOINTS:
            response = await http.post(path, content=body, headers={"Content-Type": content_type})
            assert response.headers["content-type"] == "application/json", response.text
            assert set(response.json()) <= {"error", "error_description"}
            answers[path] = response
        return answers


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


# The arbitrary-body property is split by what the body is, so that each case has one
# right answer (RFC 6749 §5.2): a body that is not a form, or is a broken one, is
# invalid_request; a well-formed form without client credentials is invalid_client on the
# endpoints that authenticate the client first (RFC 7009 §2.1, RFC 7662 §2.1) and
# invalid_request (no grant_type) on the token endpoint.


@FUZZ
@given(
    body=st.binary(max_size=2048),
    content_type=st.sampled_from(["application/json", "text/plain", "", "\x7f"]),
)
async def test_a_body_that_is_not_a_form_is_invalid_request(
    app: FastAPI, body: bytes, content_type: str
) -> None:
    for response in (await post_each(app, body, content_type)).values():
        assert error_of(response) == (400, "invalid_request"), response.text


broken_form_parts = st.sampled_from([b"%zz", b"%", b"\xff\xfe", b"x=1&x=2", b"a=%C3"])


@FUZZ
@given(body=st.binary(max_size=2048), broken=broken_form_parts)
async def test_a_broken_form_is_invalid_request(app: FastAPI, body: bytes, broken: bytes) -> None:
    # However the rest looks, one bad escape, non-UTF-8 byte or repeated name breaks it.
    for response in (await post_each(app, body + b"&" + broken, FORM)).values():
        assert error_of(response) == (400, "invalid_request"), response.text


# Unknown parameters only: a known one (client_id, grant_type, code, nonce ...) with a
# value outside its RFC 6749 Appendix A grammar is rightly a 400 before authentication.
form_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda name: name not in GRAMMAR
)


@FUZZ
@given(fields=st.dictionaries(form_names, st.text(max_size=40), max_size=6))
async def test_a_form_without_client_credentials(app: FastAPI, fields: dict[str, str]) -> None:
    answers = await post_each(app, urlencode(fields).encode(), FORM)
    assert error_of(answers["/oauth/token"]) == (400, "invalid_request")
    assert error_of(answers["/oauth/revoke"]) == (401, "invalid_client")
    assert error_of(answers["/oauth/introspect"]) == (401, "invalid_client")
