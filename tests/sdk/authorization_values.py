"""Hypothesis strategies for `Authorization` header values, one class per right answer
(RFC 6750 §2.1 and §3.1, as jwtkeep.sdk.bearer applies them), so a property test over
arbitrary values asserts the one status each value must get instead of "400 or 401".

Each class is built from its definition, not from the parser: `b64token` is RFC 6750's
`1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.

- `other_scheme`: no Bearer credentials at all -> 401, bare challenge (no error code).
- `well_formed_bearer`: `Bearer` + spaces + a b64token that is no valid token
  -> 401 `invalid_token`.
- `malformed_bearer`: `Bearer` + spaces + text with a character a b64token cannot hold
  (neither a space, a tab nor `=`, which could be trimmed or end a b64token)
  -> 400 `invalid_request`.
- `empty_bearer`: `Bearer` and nothing but spaces -> 400 `invalid_request`.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

__all__ = [
    "B64TOKEN_ALPHABET",
    "VISIBLE_LATIN1",
    "empty_bearer",
    "malformed_bearer",
    "other_scheme",
    "well_formed_bearer",
]

B64TOKEN_ALPHABET = string.ascii_letters + string.digits + "-._~+/"
# What a WSGI test client may send in a header: latin-1, no control characters.
VISIBLE_LATIN1 = "".join(chr(c) for c in range(0x20, 0x100) if c != 0x7F)
_NOT_IN_B64TOKEN = "".join(c for c in VISIBLE_LATIN1 if c not in B64TOKEN_ALPHABET + " \t=")

_spaces = st.text(alphabet=" ", min_size=1, max_size=3)
_bearer = st.sampled_from(["Bearer", "bearer", "BEARER", "bEaReR"])


def _joined(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


other_scheme = _joined(
    st.text(alphabet=string.ascii_letters, min_size=1, max_size=12).filter(
        lambda scheme: scheme.lower() != "bearer"
    ),
    st.one_of(st.just(""), _joined(_spaces, st.text(alphabet=VISIBLE_LATIN1, max_size=200))),
)

well_formed_bearer = _joined(
    _bearer,
    _spaces,
    st.text(alphabet=B64TOKEN_ALPHABET, min_size=1, max_size=300),
    st.text(alphabet="=", max_size=2),
)

malformed_bearer = _joined(
    _bearer,
    _spaces,
    st.text(alphabet=B64TOKEN_ALPHABET, max_size=100),
    st.sampled_from(_NOT_IN_B64TOKEN),
    st.text(alphabet=VISIBLE_LATIN1, max_size=100),
)

empty_bearer = _joined(_bearer, st.text(alphabet=" ", max_size=3))
