"""`refused_for`: `pytest.raises` for jwtkeep's refusals, matched on the *reason*.

An `OAuthError`'s message is the public text ("The access token is invalid."), the same
for every refusal on purpose (RFC 6750 §3.1; no oracle for an attacker), so
`pytest.raises(InvalidToken, match=...)` could not tell a refusal for the right reason
from one for another. The reason (`OAuthError.reason`, for the audit log) can: an attack
test must fail if the token was refused because of something else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from jwtkeep.errors import InvalidToken, OAuthError

__all__ = ["refused_for"]


@contextmanager
def refused_for(reason: str, error: type[OAuthError] = InvalidToken) -> Iterator[None]:
    """Expect `error` whose `reason` matches the regex `reason` (re.search)."""
    with pytest.raises(error) as caught:
        yield
    actual = caught.value.reason
    assert re.search(reason, actual), f"refused, but for {actual!r}, not {reason!r}"
