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


_ARTIFACT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION_RE = re.compile(r"^v(0|[1-9][0-9]{0,17})$")
MAX_ARTIFACT_PATH = 1024


def check_artifact_name(name: object, what: str = "artifact name", longest: int = 128) -> str:
    """Artifact and registry names: letters, digits, ``_ . -``; never ``:`` or ``/`` (I22)."""
    if (not isinstance(name, str) or not _ARTIFACT_RE.match(name) or name in (".", "..")
            or set(name) == {"."} or len(name) > longest):
        raise ValidationError(
            f"{what} {name!r:.80} is not valid: use 1-{longest} letters, digits, '.', '-' or "
            "'_', starting with a letter or digit (':' and '/' are reserved for "
            "'project/name:alias')")
    return name


def check_artifact_type(type_: object) -> str:
    """An artifact type such as ``dataset`` or ``model`` (at most 64 characters)."""
    return check_artifact_name(type_, "artifact type", longest=64)


def check_alias(alias: object) -> str:
    """An alias such as ``production``; ``vN`` is reserved for version numbers."""
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise ValidationError(
            f"alias {alias!r:.80} is not valid: use 1-64 letters, digits, '.', '-' or '_'")
    if _VERSION_RE.match(alias):
        raise ValidationError(f"alias {alias!r} is reserved: 'vN' names version N; pick another")
    return alias


def version_index(text: str) -> int | None:
    """``3`` for ``"v3"``, else None."""
    match = _VERSION_RE.match(text)
    return int(match.group(1)) if match else None


REFERENCE_SCHEMES = ("file", "http", "https", "s3")


def check_reference_uri(uri: object) -> str:
    """A file an artifact references without copying it: a ``file``, ``http(s)`` or ``s3``
    URI of at most 4096 characters, no other scheme (I18). The server stores references and
    never opens them; the SDK that downloads an artifact opens them on the user's machine."""
    from urllib.parse import urlparse

    text = str(uri)
    scheme = urlparse(text).scheme
    if scheme not in REFERENCE_SCHEMES or len(text) > 4096 or any(
            ord(c) < 32 for c in text):
        raise ValidationError(f"reference {text[:100]!r} has scheme {scheme!r}; use one of "
                              f"{', '.join(REFERENCE_SCHEMES)} (at most 4096 characters)")
    return text


def check_artifact_path(path: object) -> str:
    """A file's path inside an artifact: relative, ``/``-separated, no ``.``/``..`` segment,
    no backslash, NUL, control character, drive letter or percent-encoding tricks (I08).

    The path names the file to users; storage keys are content digests, never this path.
    """
    import unicodedata

    if not isinstance(path, str) or not path:
        raise ValidationError(f"artifact path {path!r:.80} must be a non-empty string")
    text = unicodedata.normalize("NFKC", path)  # full-width dots and slashes become plain ones
    problems = []
    if len(path) > MAX_ARTIFACT_PATH:
        problems.append(f"longer than {MAX_ARTIFACT_PATH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        problems.append("holds a control character (NUL, newline, ...)")
    if "\\" in text:
        problems.append("holds a backslash (use '/')")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        problems.append("is absolute")
    if "%" in text and re.search(r"%[0-9A-Fa-f]{2}", text):
        problems.append("holds percent-encoding")
    if any(seg in ("", ".", "..") for seg in text.split("/")):
        problems.append("has an empty, '.' or '..' segment")
    if problems:
        raise ValidationError(f"artifact path {path[:120]!r} {', and '.join(problems)}; use a "
                              "relative path like 'data/train.csv'")
    return path


def parse_artifact_ref(ref: object, default_project: str | None = None
                       ) -> tuple[str, str, str]:
    """``"project/name:alias"``, ``"name:v3"`` or ``"name"`` (latest) -> (project, name, tag)."""
    if not isinstance(ref, str) or not ref:
        raise ValidationError(f"artifact reference {ref!r:.80} must be 'name', 'name:alias' or "
                              "'project/name:alias'")
    path, _, tag = ref.partition(":")
    parts = path.split("/")
    if len(parts) == 1:
        if default_project is None:
            raise ValidationError(f"artifact reference {ref!r} needs a project: "
                                  "'project/name:alias'")
        project, name = default_project, parts[0]
    elif len(parts) == 2:
        project, name = parts
    elif len(parts) == 3:  # entity/project/name, as wandb writes it
        project, name = parts[1], parts[2]
    else:
        raise ValidationError(f"artifact reference {ref!r} has too many '/'; write "
                              "'project/name:alias'")
    tag = tag or "latest"
    if version_index(tag) is None:
        check_alias(tag)
    return check_project(project), check_artifact_name(name), tag
