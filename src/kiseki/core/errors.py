"""The one error tree of kiseki.

::

    KisekiError
    ├── UsageError            the caller used the SDK or CLI wrongly ("call init() first")
    │   └── StepOrderError    a step below the run's current step
    ├── ValidationError       an input value is not acceptable (bad key, bad filter, bad step)
    │   └── PayloadTooLargeError
    ├── NotFoundError         a project, run or key does not exist (or is not visible)
    ├── ConflictError         the request clashes with stored state
    ├── AuthError             missing, malformed or revoked credentials
    ├── ForbiddenError        known caller, not allowed (a protected alias, a maintainer's job)
    ├── TransportError        the server could not be reached or answered badly
    └── StorageError          the database or blob store failed
        └── StorageUnavailableError   a transient failure: retry later
            └── StorageFullError      the server's disk or database is full (HTTP 507)

Messages name the input and the fix. The server maps these to HTTP in one table
(``kiseki.server.errors``); nothing below the server raises HTTP exceptions.
"""

from __future__ import annotations

import errno


class KisekiError(Exception):
    """Base of every error kiseki raises on purpose."""


class UsageError(KisekiError):
    """The SDK or CLI was used in a way it does not support."""


class StepOrderError(UsageError):
    """A step below the run's current step was logged."""


class ValidationError(KisekiError):
    """An input value was refused; the message names the input and the fix."""


class PayloadTooLargeError(ValidationError):
    """A body, value or key is above a documented limit."""


class NotFoundError(KisekiError):
    """The object does not exist, or is not visible to the caller."""


class ConflictError(KisekiError):
    """The request clashes with stored state."""


class AuthError(KisekiError):
    """Credentials are missing, malformed or revoked."""


class ForbiddenError(KisekiError):
    """The caller is known but not allowed to do this (e.g. move a protected alias)."""


class TransportError(KisekiError):
    """The server could not be reached or answered with something unusable."""


class StorageError(KisekiError):
    """The store failed."""


class StorageUnavailableError(StorageError):
    """The store is temporarily unavailable (locked, restarting, full); retry later."""


class StorageFullError(StorageUnavailableError):
    """The server's disk or database is full: nothing was half-written; clients retry and
    succeed once space is freed (reliability R13)."""


# errno values of a storage that cannot take more bytes until space is freed: no space left,
# disk quota exceeded (a per-file size limit, EFBIG, is not one: retrying would not help)
FULL_ERRNOS = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT")
                        if hasattr(errno, name))


def full_storage_message(what: str, reason: object) -> str:
    return (f"the server's {what} is full ({reason}); nothing was stored from this request, "
            "clients retry on their own: free space on the server")
