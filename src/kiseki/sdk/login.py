"""Saving the server a machine's clients send to: ``kiseki login URL`` and ``kiseki.login()``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kiseki.core.errors import AuthError, TransportError, UsageError
from kiseki.sdk.settings import load_settings, login_file


def save_login(url: str, key: str | None = None, verify: bool = True) -> Path:
    """Check that ``url`` answers (with ``key``), then save both for the SDK and the CLI;
    return the file. Nothing is saved when the check fails."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"the server URL must start with http:// or https://, got {url!r}")
    base_url = url.rstrip("/")
    api_key = key or os.environ.get("KISEKI_API_KEY")
    if verify:
        _verify(base_url, api_key)
    path = login_file(load_settings().root_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"base_url": base_url, "api_key": api_key}, fh)
    return path


def _verify(url: str, key: str | None) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        resp = httpx.get(f"{url}/api/v1/projects", headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        raise TransportError(f"cannot reach {url}: {exc} (verify=False / --no-verify saves "
                             "it anyway)") from None
    if resp.status_code == 401:
        raise AuthError(f"{url} refused the API key; pass the key (key=... or --key KEY)")
    if resp.status_code != 200:
        raise TransportError(f"{url} answered HTTP {resp.status_code}")
