"""API keys: created once (shown to the user once), stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from sqlalchemy import Connection, insert, select, update

from kiseki.core.errors import NotFoundError, ValidationError
from kiseki.store.tables import api_keys

PREFIX = "ksk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


ROLES = ("member", "maintainer")


def create(conn: Connection, name: str, role: str = "member") -> str:
    if role not in ROLES:
        raise ValidationError(f"role {role!r} is not one of {', '.join(ROLES)}")
    key = PREFIX + secrets.token_urlsafe(32)
    conn.execute(insert(api_keys).values(name=name[:128], prefix=key[:10], key_hash=hash_key(key),
                                         created_at=time.time(), role=role))
    return key


def revoke(conn: Connection, prefix: str) -> None:
    result = conn.execute(update(api_keys).where(api_keys.c.prefix == prefix[:10],
                                                 api_keys.c.revoked_at.is_(None))
                          .values(revoked_at=time.time()))
    if not result.rowcount:
        raise NotFoundError(f"no active API key starts with {prefix[:10]!r}")


def active_hashes(conn: Connection) -> dict[str, tuple[str, str]]:
    """Hash -> (key name, role) of every active key."""
    rows = conn.execute(select(api_keys.c.key_hash, api_keys.c.name, api_keys.c.role)
                        .where(api_keys.c.revoked_at.is_(None)))
    return {r[0]: (r[1], r[2]) for r in rows}


def listing(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(api_keys.c.name, api_keys.c.prefix, api_keys.c.role,
                               api_keys.c.created_at, api_keys.c.revoked_at)
                        .order_by(api_keys.c.id))
    return [dict(r._mapping) for r in rows]
