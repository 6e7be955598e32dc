"""jwtkeep.logs: the redaction processor (property-based) and the one logging configuration.

Secrets of every shape the module promises to remove, embedded in random text and random
nested structures, never survive `redact`; a configured process honours its level for
structlog and stdlib loggers alike, writes one JSON object a line, never frame locals,
and caps the size of an event.
"""

from __future__ import annotations

import base64
import json
import logging
import logging.config
import string
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jwtkeep.errors import ConfigurationError
from jwtkeep.logs import REDACTED, configure_logging, logging_config, redact

B64URL = string.ascii_letters + string.digits + "-_"
segment = st.text(B64URL, min_size=16, max_size=200)
# Printable text that may hold anything, but no part of our own secrets' alphabets
# glued to them: separators are added around each embedded secret.
filler = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200)


@st.composite
def jws(draw: st.DrawFn) -> str:
    header = base64.urlsafe_b64encode(
        json.dumps(
            {"alg": draw(st.sampled_from(["EdDSA", "RS256"])), "kid": draw(segment)}
        ).encode()
    ).rstrip(b"=")
    return f"{header.decode()}.{draw(segment)}.{draw(segment)}"


@st.composite
def jwe(draw: st.DrawFn) -> str:
    return f"{draw(jws())}.{draw(segment)}.{draw(segment)}"


refresh_tokens = st.builds(lambda sid, secret: f"jkrt_{sid}.{secret}", segment, segment)
client_secrets = st.builds(lambda secret: f"jkcs_{secret}", segment)
shaped_secrets = st.one_of(jws(), jwe(), refresh_tokens, client_secrets)
token68 = st.text(B64URL + "+/", min_size=16, max_size=100).map(lambda t: t + "==")
form_value = st.text(B64URL + "%+.~", min_size=16, max_size=100)
SENSITIVE_NAMES = [
    "password", "client_secret", "refresh_token", "access_token", "token", "code_verifier",
    "Authorization", "cookie", "new_password", "hmac_secret",
]  # fmt: skip


@st.composite
def secret_in_context(draw: st.DrawFn) -> tuple[str, str]:
    """(the secret, a text carrying it in one of the ways it reaches a log)."""
    kind = draw(st.sampled_from(["shaped", "scheme", "form", "repr", "header"]))
    if kind == "shaped":
        secret = draw(shaped_secrets)
        carried = secret
    elif kind == "scheme":
        secret = draw(token68)
        carried = f"{draw(st.sampled_from(['Basic', 'Bearer', 'bearer', 'DPoP']))} {secret}"
    elif kind == "form":
        secret = draw(form_value)
        carried = f"{draw(st.sampled_from(SENSITIVE_NAMES))}={secret}"
    elif kind == "repr":
        secret = draw(st.text(st.characters(blacklist_characters="'\\"), min_size=16))
        carried = f"{{'{draw(st.sampled_from(SENSITIVE_NAMES))}': '{secret}'}}"
    else:
        secret = draw(token68)
        carried = f"(b'authorization', b'Basic {secret}')"
    around = filler.filter(lambda text: secret not in text)
    return secret, f"{draw(around)} {carried} {draw(around)}"


@settings(max_examples=300)
@given(secret_in_context())
def test_no_secret_survives_in_text(case: tuple[str, str]) -> None:
    secret, text = case
    cleaned = redact(text, limit=1_000_000)
    assert isinstance(cleaned, str)
    assert secret not in cleaned
    assert REDACTED in cleaned


delimiters = st.sampled_from(list("=:'\"(<[{,;\t\n&"))


@settings(max_examples=200)
@given(shaped_secrets, filler, filler, delimiters, delimiters)
def test_shaped_secrets_are_found_between_any_delimiters(
    secret: str, before: str, after: str, left: str, right: str
) -> None:
    assume(secret not in before + after)
    cleaned = redact(f"{before}{left}{secret}{right}{after}", limit=1_000_000)
    assert isinstance(cleaned, str)
    assert secret not in cleaned


def nest(secret: str, value: Any) -> st.SearchStrategy[Any]:
    """`value` somewhere inside random dicts and lists (which do not hold `secret`)."""
    other = filler.filter(lambda text: secret not in text)
    keys = st.text(string.ascii_lowercase, min_size=1).filter(lambda key: secret not in key)
    return st.recursive(
        st.just(value),
        lambda inner: st.one_of(
            st.lists(st.one_of(inner, other), min_size=1, max_size=4),
            st.dictionaries(keys, inner, min_size=1, max_size=3),
            st.tuples(inner, other),
        ),
        max_leaves=5,
    )


@settings(max_examples=200)
@given(secret_in_context().flatmap(lambda case: st.tuples(st.just(case[0]), nest(*case))))
def test_no_secret_survives_in_structures(case: tuple[str, Any]) -> None:
    secret, structure = case
    assert secret not in json.dumps(redact(structure), ensure_ascii=False)


@settings(max_examples=200)
@given(st.sampled_from(SENSITIVE_NAMES), st.text(min_size=1), filler)
def test_values_of_sensitive_keys_are_dropped(name: str, secret: str, other: str) -> None:
    cleaned = redact({"event": "x", "nested": [{name: secret}], name.upper(): {"a": secret}})
    assert cleaned == {"event": "x", "nested": [{name: REDACTED}], name.upper(): REDACTED}


def test_sizes_are_capped() -> None:
    cleaned = redact({"event": "x" * 100_000, "many": list(range(1000)), "exception": "y" * 10**6})
    assert len(json.dumps(cleaned)) < 8 * 1024


@pytest.mark.parametrize("unit", ["token", "eyJ", "jkrt_", "$argon2i$", "Basic ", "'a',"])
def test_hostile_repetitions_are_redacted_in_linear_time(unit: str) -> None:
    # Quadratic backtracking would make this test hang (a log flood that is also a DoS).
    cleaned = redact(unit * 200_000 + "=x")
    assert isinstance(cleaned, str)
    assert len(cleaned) <= 2 * 1024


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False,
                               "root": {"level": "WARNING", "handlers": []}})  # fmt: skip


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("level", ["WARNING", "warning", "Error"])
def test_the_level_is_honoured_by_structlog_and_stdlib(
    level: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level, "json")
    own, library = structlog.get_logger("jwtkeep.test"), logging.getLogger("some.library")
    own.info("own.info")
    library.info("library.info")
    own.error("own.error", n=1)
    library.error("library.error %s", "arg")
    events = json_lines(capsys.readouterr().err)
    assert [e["event"] for e in events] == ["own.error", "library.error arg"]
    assert [e["level"] for e in events] == ["error", "error"]
    assert events[0]["logger"] == "jwtkeep.test"


def boom() -> None:
    local_only_value = "a value only a frame local holds 93f1c"
    raise ValueError(f"it broke: password={local_only_value[:3]} Bearer abcdefghijklmnop")


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", ["json", "console"])
def test_exceptions_have_a_stack_but_no_locals_and_no_secret(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", log_format)
    for log in (structlog.get_logger("jwtkeep.test"), logging.getLogger("uvicorn.error")):
        try:
            boom()
        except ValueError:
            log.exception("request.failed")
    err = capsys.readouterr().err
    assert err.count("Traceback (most recent call last)") == 2
    assert err.count("ValueError: it broke") == 2
    assert "in boom" in err
    assert "a value only a frame local holds" not in err
    assert "abcdefghijklmnop" not in err
    assert "╭" not in err  # no rich panel
    if log_format == "json":
        assert len(json_lines(err)) == 2  # one JSON object a line, the stack inside it


@pytest.mark.usefixtures("restore_logging")
def test_one_event_is_at_most_a_few_kb(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")

    def deep(n: int) -> None:
        if n:
            deep(n - 1)
        raise RuntimeError("x" * 50_000)

    try:
        deep(200)
    except RuntimeError:
        structlog.get_logger("jwtkeep.test").exception("request.failed", body="b" * 10**6)
    err = capsys.readouterr().err
    (event,) = json_lines(err)
    assert len(err.encode()) <= 8 * 1024
    assert event["exception"].startswith("Traceback")
    assert "RuntimeError: xxx" in event["exception"] or event["exception"].endswith("x")


def test_bad_level_or_format_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="debug, info, warning, error, critical"):
        logging_config("loud", "json")
    with pytest.raises(ConfigurationError, match="json, console"):
        logging_config("info", "xml")
