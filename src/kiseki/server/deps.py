"""Request dependencies: the store and authentication."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from kiseki.core.errors import AuthError
from kiseki.store.apikeys import hash_key
from kiseki.store.sqlstore import SQLStore


def get_store(request: Request) -> SQLStore:
    return request.app.state.store  # type: ignore[no-any-return]


def require_auth(request: Request) -> None:
    """Check ``Authorization: Bearer <key>`` when the server requires keys (I16).

    Keys are only taken from the header, never from the query string, and compared by hash.
    """
    if not request.app.state.settings.auth_required:
        # loopback without keys: the one local user, who maintains everything
        request.state.actor, request.state.maintainer = "local", True
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing API key: send 'Authorization: Bearer <key>'")
    digest = hash_key(token.strip())
    valid: dict[str, tuple[str, str]] = request.app.state.store.valid_key_hashes()
    match = next((h for h in valid if hmac.compare_digest(digest, h)), None)
    if match is None:
        raise AuthError("invalid or revoked API key")
    name, role = valid[match]
    request.state.actor, request.state.maintainer = name, role == "maintainer"


Store = Annotated[SQLStore, Depends(get_store)]
