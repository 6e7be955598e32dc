"""App-configured claims may not collide with registered or public names (RFC 7519 §4)."""

from __future__ import annotations

import pytest

from jwtkeep.core.claims import ClaimError, check_extra_claim_names


@pytest.mark.parametrize(
    "name", ["sub", "exp", "aud", "scope", "client_id", "sid", "email", "name", "cnf", "act"]
)
def test_colliding_names_are_refused(name: str) -> None:
    with pytest.raises(ClaimError, match=name):
        check_extra_claim_names([name, "tenant_id"])


def test_private_names_are_allowed() -> None:
    check_extra_claim_names(["tenant_id", "https://example.com/claims/plan"])
