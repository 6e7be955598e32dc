"""`jwtkeep app create | update | list` and `jwtkeep user create --password-stdin`."""

from __future__ import annotations

import uuid

import pytest

from jwtkeep.cli.users import password_from_stdin
from jwtkeep.errors import InvalidRequest
from jwtkeep.ports import App, User
from jwtkeep.runtime import Runtime
from tests.cli.support import PASSWORD, Cli, one_json

# --- apps -----------------------------------------------------------------------------


def stored_app(cli: Cli, client_id: str) -> App:
    async def action(runtime: Runtime) -> App | None:
        return await runtime.context.apps.app_by_client_id(client_id)

    found = cli.with_runtime(action)
    assert found is not None
    return found


def test_public_app_json_is_one_value_with_a_null_secret(ready: Cli) -> None:
    result = ready.ok("app", "create", "web", "--audience", "https://api.example",
                      "--scope", "read", "--scope", "write", "--json")  # fmt: skip
    created = one_json(result)
    assert set(created) == {"client_id", "client_secret"}
    assert created["client_secret"] is None
    app = stored_app(ready, created["client_id"])
    assert (app.name, app.audience, app.scopes) == ("web", "https://api.example", ("read", "write"))
    assert not app.confidential
    assert app.refresh_enabled


def test_confidential_app_prints_its_secret_once_and_stores_only_a_hash(ready: Cli) -> None:
    created = one_json(ready.ok("app", "create", "backend", "--audience", "https://api.example",
                                "--confidential", "--json"))  # fmt: skip
    secret = created["client_secret"]
    assert isinstance(secret, str)
    assert len(secret) >= 32
    app = stored_app(ready, created["client_id"])
    assert app.client_secret_hash is not None
    assert secret not in app.client_secret_hash
    listed = ready.ok("app", "list", "--json").stdout
    assert secret not in listed
    assert app.client_secret_hash not in listed
    assert (ready.data_dir / "jwtkeep.db").read_bytes().find(secret.encode()) == -1


def test_app_options_reach_the_stored_app(ready: Cli) -> None:
    created = one_json(ready.ok(
        "app", "create", "orders", "--audience", "https://orders.example", "--scope", "orders:read",
        "--route", "GET /orders/*=orders:read", "--ttl", "120", "--no-refresh", "--json",
    ))  # fmt: skip
    app = stored_app(ready, created["client_id"])
    assert app.routes == ("GET /orders/*=orders:read",)
    assert app.access_token_ttl == 120
    assert app.refresh_enabled is False


def test_human_output_names_the_client_id(ready: Cli) -> None:
    result = ready.ok("app", "create", "cli-app", "--audience", "aud", "--confidential")
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    client_id = lines["client_id"].strip()
    assert stored_app(ready, client_id).name == "cli-app"
    assert "shown once" in result.stderr


def test_app_list_json_is_an_array_without_secrets(ready: Cli) -> None:
    assert one_json(ready.ok("app", "list", "--json")) == []
    ready.ok("app", "create", "a1", "--audience", "aud1", "--confidential")
    ready.ok("app", "create", "a2", "--audience", "aud2", "--scope", "s")
    listed = one_json(ready.ok("app", "list", "--json"))
    assert [a["name"] for a in sorted(listed, key=lambda a: a["name"])] == ["a1", "a2"]
    for one in listed:
        assert not {k for k in one if "secret" in k or "hash" in k}
    assert "a1" in ready.ok("app", "list").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--route", "GET orders=read"), "route"), (("--scope", "bad scope"), "scope"),
     (("--redirect-uri", "http://app.example/cb"), "loopback"),
     (("--redirect-uri", "https://app.example/cb#frag"), "fragment"),
     (("--redirect-uri", "myapp:/cb"), "private-use scheme"),
     (("--grant", "implicit"), "unknown grant"),
     (("--grant", "client_credentials"), "confidential")],
)  # fmt: skip
def test_bad_app_input_is_a_clear_error(ready: Cli, args: tuple[str, ...], message: str) -> None:
    result = ready("app", "create", "x", "--audience", "aud", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert result.stdout == ""


def test_new_apps_get_the_code_flow_and_refresh_and_declare_redirect_uris(ready: Cli) -> None:
    uris = ("https://spa.example/cb", "http://127.0.0.1/cb", "com.example.app:/cb")
    flags = [part for uri in uris for part in ("--redirect-uri", uri)]
    result = ready.ok("app", "create", "spa", "--audience", "https://api.spa", *flags,
                      "--first-party", "--json")  # fmt: skip
    assert "warning" not in result.stderr
    app = stored_app(ready, one_json(result)["client_id"])
    assert app.grants == ("authorization_code", "refresh_token")
    assert app.redirect_uris == ("https://spa.example/cb", "http://127.0.0.1/cb",
                                 "com.example.app:/cb")  # fmt: skip
    assert app.first_party
    assert not app.allows_grant("password")


def test_the_password_grant_is_an_opt_in_the_cli_warns_about(ready: Cli) -> None:
    result = ready.ok("app", "create", "tour", "--audience", "https://api.tour", "--grant",
                      "password", "--grant", "refresh_token", "--json")  # fmt: skip
    assert "RFC 9700" in result.stderr
    assert "password grant" in result.stderr
    app = stored_app(ready, one_json(result)["client_id"])
    assert app.grants == ("refresh_token", "password")
    assert app.allows_grant("password")
    assert not app.allows_grant("authorization_code")


def test_app_update_changes_redirect_uris_grants_and_first_party(ready: Cli) -> None:
    client_id = one_json(ready.ok("app", "create", "web", "--audience", "https://api.web",
                                  "--json"))["client_id"]  # fmt: skip
    updated = one_json(ready.ok("app", "update", "web", "--redirect-uri", "https://web.example/cb",
                                "--first-party", "--json"))  # fmt: skip
    assert updated["redirect_uris"] == ["https://web.example/cb"]
    assert updated["first_party"] is True
    by_id = ready.ok("app", "update", client_id, "--grant", "password", "--no-first-party")
    assert "RFC 9700" in by_id.stderr
    app = stored_app(ready, client_id)
    assert (app.grants, app.redirect_uris, app.first_party, app.refresh_enabled) == (
        ("password",), ("https://web.example/cb",), False, False)  # fmt: skip
    bad = ready("app", "update", "web", "--redirect-uri", "ftp://web.example/")
    assert bad.exit_code == 1
    assert "redirect URI" in bad.stderr
    assert ready("app", "update", "nobody", "--first-party").exit_code == 1


def test_one_app_update_for_every_field_with_the_checks_of_create(ready: Cli) -> None:
    """main's options and the browser's go through one `app update`: a scope, a redirect
    URI and a grant at once; refresh tokens and the refresh grant stay one switch."""
    client_id = one_json(ready.ok("app", "create", "one", "--audience", "https://api.one",
                                  "--scope", "read", "--json"))["client_id"]  # fmt: skip
    ready.ok("app", "update", "one", "--scope", "read", "--scope", "write",
             "--redirect-uri", "http://127.0.0.1/cb", "--grant", "authorization_code")  # fmt: skip
    app = stored_app(ready, client_id)
    assert (app.scopes, app.redirect_uris, app.grants, app.refresh_enabled) == (
        ("read", "write"), ("http://127.0.0.1/cb",), ("authorization_code",), False)  # fmt: skip
    ready.ok("app", "update", "one", "--refresh")
    app = stored_app(ready, client_id)
    assert (app.grants, app.refresh_enabled) == (("authorization_code", "refresh_token"), True)
    assert app.allows_grant("refresh_token")
    ready.ok("app", "update", "one", "--no-refresh", "--no-redirect-uris")
    app = stored_app(ready, client_id)
    assert (app.grants, app.refresh_enabled, app.redirect_uris) == (
        ("authorization_code",), False, ())  # fmt: skip
    public = ready("app", "update", "one", "--grant", "client_credentials")
    assert public.exit_code == 1
    assert "needs a --confidential app" in public.stderr
    unknown = ready("app", "update", "one", "--grant", "implicit")
    assert unknown.exit_code == 1
    assert "unknown grant 'implicit'" in unknown.stderr
    assert stored_app(ready, client_id).grants == ("authorization_code",)
    shown = one_json(ready.ok("app", "show", "one", "--json"))
    assert (shown["grants"], shown["redirect_uris"], shown["first_party"]) == (
        ["authorization_code"], [], False)  # fmt: skip


def test_bad_app_name_and_duplicate_name(ready: Cli) -> None:
    assert ready("app", "create", "no spaces", "--audience", "aud").exit_code == 1
    ready.ok("app", "create", "dup", "--audience", "aud")
    again = ready("app", "create", "dup", "--audience", "aud-2", "--json")
    assert again.exit_code == 1
    assert again.stdout == ""  # no half JSON on failure
    assert "error:" in again.stderr


def test_an_audience_belongs_to_one_app(ready: Cli) -> None:
    ready.ok("app", "create", "web", "--audience", "https://api.example")
    again = ready("app", "create", "backend", "--audience", "https://api.example",
                  "--confidential", "--json")  # fmt: skip
    assert again.exit_code == 1
    assert again.stdout == ""
    assert "'https://api.example' already belongs to app 'web'" in again.stderr


def test_the_issuer_url_is_no_apps_audience(ready: Cli) -> None:
    async def issuer_of(runtime: Runtime) -> str:
        return runtime.settings.effective_issuer

    issuer = ready.with_runtime(issuer_of)
    refused = ready("app", "create", "sneaky", "--audience", issuer)
    assert refused.exit_code == 1
    assert "account API" in refused.stderr


@pytest.mark.parametrize(("ttl", "bound"), [("29", "30"), ("3601", "3600"), ("999999", "3600")])
def test_ttl_out_of_range_is_a_usage_error_naming_the_range(
    ready: Cli, ttl: str, bound: str
) -> None:
    """`--ttl` is 30-3600 (JWTKEEP_ACCESS_TOKEN_TTL's bounds), shown in --help and checked
    before anything runs: exit code 2, as for any bad usage (docs/cli.md)."""
    result = ready("app", "create", "x", "--audience", "aud", "--ttl", ttl)
    assert result.exit_code == 2
    assert "Invalid value for '--ttl'" in result.output
    assert f"equal to {bound}" in result.output
    assert "30<=x<=3600" in ready.ok("app", "create", "--help").stdout
    assert one_json(ready.ok("app", "list", "--json")) == []


def test_account_access_is_on_unless_refused(ready: Cli) -> None:
    operator = one_json(ready.ok("app", "create", "web", "--audience", "https://web.example",
                                 "--json"))  # fmt: skip
    kiosk = one_json(ready.ok("app", "create", "kiosk", "--audience", "https://kiosk.example",
                              "--no-account-access", "--json"))  # fmt: skip
    assert stored_app(ready, operator["client_id"]).account_access is True
    assert stored_app(ready, kiosk["client_id"]).account_access is False
    listed = {
        one["name"]: one["account_access"] for one in one_json(ready.ok("app", "list", "--json"))
    }
    assert listed == {"web": True, "kiosk": False}
    assert "no-account-access" in ready.ok("app", "list").stdout


def test_introspect_audience_is_stored_and_listed(ready: Cli) -> None:
    ready.ok("app", "create", "web", "--audience", "https://api.example")
    ready.ok("app", "create", "mobile", "--audience", "https://m.example")
    created = one_json(ready.ok(
        "app", "create", "api", "--audience", "https://jobs.example", "--confidential",
        "--introspect-audience", "https://api.example",
        "--introspect-audience", "https://m.example", "--json",
    ))  # fmt: skip
    grants = ("https://api.example", "https://m.example")
    assert stored_app(ready, created["client_id"]).introspect_audiences == grants
    listed = {
        one["name"]: one["introspect_audiences"]
        for one in one_json(ready.ok("app", "list", "--json"))
    }
    assert listed == {"web": [], "mobile": [], "api": list(grants)}
    api_line = next(line for line in ready.ok("app", "list").stdout.splitlines()
                    if line.startswith("api "))  # fmt: skip
    assert api_line.split()[-1] == "https://api.example,https://m.example"


def test_introspect_audience_refusals(ready: Cli) -> None:
    async def issuer_of(runtime: Runtime) -> str:
        return runtime.settings.effective_issuer

    ready.ok("app", "create", "web", "--audience", "https://api.example")
    base = ("app", "create", "api", "--audience", "https://jobs.example", "--json")
    public = ready(*base, "--introspect-audience", "https://api.example")
    issuer = ready(*base, "--confidential", "--introspect-audience", ready.with_runtime(issuer_of))
    unknown = ready(*base, "--confidential", "--introspect-audience", "https://nobody.example")
    for refused, message in [
        (public, "only a confidential app may introspect"),
        (issuer, "account API, whose tokens no app may introspect"),
        (unknown, "no app has the audience 'https://nobody.example'"),
    ]:
        assert refused.exit_code == 1
        assert refused.stdout == ""
        assert refused.stderr.startswith("error: ")
        assert len(refused.stderr.splitlines()) == 1
        assert message in refused.stderr
    assert [a["name"] for a in one_json(ready.ok("app", "list", "--json"))] == ["web"]


def test_audience_is_required(ready: Cli) -> None:
    result = ready("app", "create", "x")
    assert result.exit_code == 2
    assert "--audience" in result.output


# --- users ----------------------------------------------------------------------------


def stored_user(cli: Cli, username: str) -> User:
    async def action(runtime: Runtime) -> User | None:
        return await runtime.context.users.user_by_username(username)

    found = cli.with_runtime(action)
    assert found is not None
    return found


def password_works(cli: Cli, username: str, password: str) -> bool:
    user = stored_user(cli, username)

    async def action(runtime: Runtime) -> bool:
        return await runtime.context.check_password(user.password_hash, password)

    return cli.with_runtime(action)


def test_user_create_json_gives_the_uuid(ready: Cli) -> None:
    created = one_json(ready.ok("user", "create", "alice", "--password-stdin", "--json",
                                input=PASSWORD + "\n"))  # fmt: skip
    assert set(created) == {"id"}
    assert str(uuid.UUID(created["id"])) == created["id"]
    assert stored_user(ready, "alice").id == created["id"]


def test_user_create_plain_prints_only_the_uuid(ready: Cli) -> None:
    result = ready.ok("user", "create", "bob", "--password-stdin", input=PASSWORD)
    assert result.stdout.strip() == stored_user(ready, "bob").id
    assert PASSWORD not in result.output


@pytest.mark.parametrize(
    ("stdin", "password"),
    [(b"s3cret pass\n", "s3cret pass"), (b"s3cret pass\r\n", "s3cret pass"),
     (b"s3cret pass", "s3cret pass"), (b"s3cret pass\n\n", "s3cret pass\n"),
     (b"  spaced pw  \n", "  spaced pw  "), ("pässwörd ✓\n".encode(), "pässwörd ✓")],
)  # fmt: skip
def test_exactly_one_trailing_newline_is_dropped(ready: Cli, stdin: bytes, password: str) -> None:
    ready.ok("user", "create", "carol", "--password-stdin", input=stdin)
    assert password_works(ready, "carol", password)
    if stdin.decode() != password:
        assert not password_works(ready, "carol", stdin.decode())  # the raw input is not it


def test_password_is_never_accepted_as_an_argument(ready: Cli) -> None:
    result = ready("user", "create", "dave", PASSWORD)
    assert result.exit_code == 2
    missing_flag = ready("user", "create", "dave", input=PASSWORD)
    assert missing_flag.exit_code == 2
    assert "--password-stdin" in missing_flag.stderr


@pytest.mark.parametrize(
    ("stdin", "message"),
    [(b"", "no password"), (b"\n", "no password"), (b"sh0rt!\n", "at least"),
     (b"\xff\xfe\n", "UTF-8"), (b"x" * 5000, "longer"),
     (b"Password123\n", "too common"), (b" " * 8, "only whitespace"),
     (b"ERIN.SMITH\n", "not be the username")],
)  # fmt: skip
def test_bad_passwords_are_clear_errors(ready: Cli, stdin: bytes, message: str) -> None:
    result = ready("user", "create", "erin.smith", "--password-stdin", input=stdin)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""  # no user was created
    if stdin.strip():
        assert stdin.strip().decode("utf-8", "replace") not in result.stderr  # never echoed


def test_duplicate_username_is_an_error(ready: Cli) -> None:
    ready.ok("user", "create", "frank", "--password-stdin", input=PASSWORD)
    again = ready("user", "create", "frank", "--password-stdin", "--json", input=PASSWORD)
    assert again.exit_code == 1
    assert again.stdout == ""


def test_password_from_stdin_unit() -> None:
    assert password_from_stdin(b"abc\r\n") == "abc"
    assert password_from_stdin(b"abc\r") == "abc\r"  # a lone CR is part of the password
    with pytest.raises(InvalidRequest):
        password_from_stdin(b"\r\n")
