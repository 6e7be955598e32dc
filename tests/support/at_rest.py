"""What a store holds at rest, read back from the real server, and the forms a secret could
take there (DESIGN "Contract: the token store": raw tokens, passwords and client secrets
never reach a store).

- `redis_dump`: every key on every node (SCAN) and everything in it (TYPE, then the read
  command for the type: GET, HGETALL, LRANGE, ZRANGE, SMEMBERS, XRANGE).
- `postgres_dump`: every row of every table in the `public` schema, the whole row cast to
  text (bytea renders as `\\x<hex>`, which `secret_forms` covers with the hex form).
- `sqlite_dump`: the database file and its -wal/-shm, byte for byte.
- `secret_forms` / `stored_forms`: the raw secret and its encodings a careless store
  might write; `stored_forms` names each form found, so a test asserts it is empty and a
  self-check asserts a planted value is found (the scanner can fail).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import redis

__all__ = [
    "postgres_dump",
    "redis_dump",
    "redis_values",
    "secret_forms",
    "sqlite_dump",
    "stored_forms",
]


def redis_values(client: Any, key: bytes) -> list[bytes]:
    """Everything in one key, read with the command for its TYPE."""
    kind = client.type(key)
    if kind == b"string":
        return [client.get(key)]
    if kind == b"hash":
        return [part for pair in client.hgetall(key).items() for part in pair]
    if kind == b"zset":
        return list(client.zrange(key, 0, -1))
    if kind == b"set":
        return list(client.smembers(key))
    if kind == b"list":
        return list(client.lrange(key, 0, -1))
    if kind == b"stream":
        return [part for _id, entry in client.xrange(key) for pair in entry.items()
                for part in pair]  # fmt: skip
    raise AssertionError(f"unexpected Redis type {kind!r}")


def redis_dump(node_urls: Iterable[str]) -> dict[bytes, list[bytes]]:
    """Every key on every node, and everything in it."""
    found: dict[bytes, list[bytes]] = {}
    for url in node_urls:
        client: Any = redis.Redis.from_url(url)
        with client:
            for key in client.scan_iter(count=1000):
                found[key] = redis_values(client, key)
    return found


async def postgres_dump(url: str) -> bytes:
    """Every row of every table, all columns cast to text, one row a line."""
    import asyncpg  # noqa: PLC0415 (an optional dependency, only for this backend)

    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        rows: list[str] = []
        for table in tables:
            name = table["tablename"]
            rows += [
                row["row"] for row in await conn.fetch(f'SELECT t::text AS row FROM "{name}" t')
            ]
    finally:
        await conn.close()
    return "\n".join(rows).encode()


def sqlite_dump(db_path: Path) -> bytes:
    """The database file and its -wal/-shm companions."""
    files = sorted(db_path.parent.glob(db_path.name + "*"))
    return b"".join(path.read_bytes() for path in files)


def secret_forms(secret: str) -> dict[str, bytes]:
    """The raw secret and each encoding of it a careless store might write; for a dotted
    token also its last part (a JWT's signature, a refresh token's random part)."""
    raw = secret.encode()
    forms = {
        "raw": raw,
        "hex": raw.hex().encode(),
        "base64": base64.b64encode(raw),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
    }
    if "." in secret:
        forms["last part"] = secret.rsplit(".", 1)[-1].encode()
    return forms


def stored_forms(
    dump: bytes | Mapping[bytes, list[bytes]], secrets: Mapping[str, str]
) -> list[str]:
    """`what (form)` for each form of each named secret found in the dump."""
    if not isinstance(dump, bytes):
        dump = b"\n".join([*dump, *(value for values in dump.values() for value in values)])
    return [
        f"{what} ({form})"
        for what, secret in secrets.items()
        for form, encoded in secret_forms(secret).items()
        if encoded in dump
    ]
