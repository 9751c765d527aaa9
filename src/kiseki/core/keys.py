"""Key rules shared by the SDK and the server (reliability I06, I07).

A metric, summary or config key is a non-empty string of at most ``MAX_KEY_LENGTH``
characters, normalised to Unicode NFC, without NUL, other C0 control characters or lone
surrogates, not whitespace-only, and with no ``.`` or ``..`` segment between ``/``.
Keys ``_step``, ``_timestamp`` and ``_runtime`` are reserved for the columns kiseki adds.
Bidi controls and zero-width characters are kept exactly (the UI shows them visibly).
"""

from __future__ import annotations

import unicodedata

from kiseki.core.errors import ValidationError

MAX_KEY_LENGTH = 256
RESERVED_KEYS = frozenset({"_step", "_timestamp", "_runtime"})
_SEPARATOR = "."


def validate_key(key: object) -> str:
    """Return ``key`` normalised to NFC, or raise ValidationError naming the problem."""
    if not isinstance(key, str):
        raise ValidationError(f"key must be a string, got {type(key).__name__} {key!r:.60}")
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(
                f"key {key[:60]!r} contains a lone surrogate; use valid Unicode text"
            ) from None
        key = unicodedata.normalize("NFC", key)
    if not key or not key.strip():
        raise ValidationError("key must not be empty or whitespace-only; name the value, e.g. 'loss'")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"key of {len(key)} characters is longer than {MAX_KEY_LENGTH}: {key[:40]!r}...; shorten it"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise ValidationError(f"key {key[:60]!r} contains a control character (e.g. NUL); remove it")
    for segment in key.split("/"):
        if segment in (".", ".."):
            raise ValidationError(
                f"key {key[:60]!r} has a {segment!r} segment; use names like 'train/loss'"
            )
    if key in RESERVED_KEYS:
        raise ValidationError(f"key {key!r} is reserved by kiseki; choose another name")
    return key


def flatten(data: dict[str, object], prefix: str = "") -> dict[str, object]:
    """Flatten nested dicts the way wandb does: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, object] = {}
    stack: list[tuple[str, dict[str, object]]] = [(prefix, data)]
    while stack:
        base, current = stack.pop()
        for key, value in current.items():
            name = f"{base}{_SEPARATOR}{key}" if base else str(key)
            if isinstance(value, dict) and value and not _is_media(value):
                stack.append((name, value))
            else:
                out[name] = value
    return out


def _is_media(value: dict[str, object]) -> bool:
    return "_type" in value
