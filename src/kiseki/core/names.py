"""Rules for project names and run ids, shared by the SDK and the server (I07, I22)."""

from __future__ import annotations

import re

from kiseki.core.errors import ValidationError

_PROJECT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_project(name: object) -> str:
    """Return ``name`` if it is a valid project name, else raise ValidationError."""
    if not isinstance(name, str) or not _PROJECT_RE.match(name) or name in (".", ".."):
        raise ValidationError(
            f"project {name!r:.80} is not valid: use 1-128 letters, digits, '.', '-' or '_' "
            "(e.g. 'mnist')")
    return name


def check_run_id(run_id: object) -> str:
    """Return ``run_id`` if valid; ids never hold ':' '/' or other reserved syntax."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise ValidationError(
            f"run id {run_id!r:.80} is not valid: use 1-64 letters, digits, '-' or '_' "
            "(e.g. 'run-42')")
    return run_id
