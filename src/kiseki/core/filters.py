"""The run filter language: text or Mongo-style dicts in, a small frozen AST out (I13, I20).

Text filters are parsed by a real LALR grammar, never spliced into SQL::

    config.lr > 0.01 and (state = "finished" or tags contains "best") and not name ~ "test"

Fields are ``config.<path>``, ``summary.<path>``, ``tags``, ``state``, ``name``, ``group``,
``job_type``, ``notes``, ``run_id`` (alias ``id``), ``created_at``, ``updated_at`` and
``heartbeat_at``; a path segment holding spaces, dots or slashes goes in backticks
(``summary.`val/loss```). Operators: ``= == != < <= > >=``, ``~`` (case-insensitive substring),
``in [..]``, ``not in [..]``, ``tags contains "x"``, ``exists``; ``and or not`` in any case, or
``&& || !``. Values: numbers, quoted strings with escapes, ``true false null``; time fields also
take ISO-8601 strings.

Logic is two-valued: ``!=`` and ``not`` are the exact complement of what they negate, so
``config.x != 5`` matches runs without ``config.x``, and ``= null`` means missing or JSON null.
Blank text and ``{}`` mean "every run" (an empty ``And``). Complexity is capped (``MAX_*``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from kiseki.core.errors import ValidationError

MAX_FILTER_CHARS = 10_000
MAX_NODES = 200
MAX_DEPTH = 32
MAX_IN_VALUES = 1_000
MAX_ORDER_KEYS = 16
MAX_PATH_SEGMENTS = 32
MAX_SEGMENT_CHARS = 256

JSON_SCOPES = frozenset({"config", "summary"})
TEXT_SCOPES = frozenset({"state", "name", "group", "job_type", "notes", "run_id"})
TIME_SCOPES = frozenset({"created_at", "updated_at", "heartbeat_at"})
SCOPES = JSON_SCOPES | TEXT_SCOPES | TIME_SCOPES | {"tags"}
COMPARE_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "~"})
ORDERED_OPS = frozenset({"<", "<=", ">", ">="})
_ALIASES = {
    "id": "run_id", "display_name": "name", "displayName": "name", "run_group": "group",
    "jobType": "job_type", "createdAt": "created_at", "updatedAt": "updated_at",
    "heartbeatAt": "heartbeat_at", "summary_metrics": "summary",
}
_INT64 = 2**63 - 1

Scalar: TypeAlias = "str | int | float | bool | None"


@dataclass(frozen=True, slots=True)
class Field:
    """A filterable field: ``scope`` is a run attribute; ``path`` addresses into config/summary."""

    scope: str
    path: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_field(self)

    def __str__(self) -> str:
        segments = [s if _BARE_SEGMENT.fullmatch(s) else "`" + s.replace("`", "``") + "`"
                    for s in self.path]
        return ".".join([self.scope, *segments])


@dataclass(frozen=True, slots=True)
class And:
    """True when every item is; ``And(())`` matches every run."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """True when any item is; ``Or(())`` matches nothing."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The exact complement of ``item`` (runs lacking the field included)."""

    item: Node


@dataclass(frozen=True, slots=True)
class Compare:
    """``field op value``; ``op`` is one of ``COMPARE_OPS`` (``~``: case-insensitive substring)."""

    field: Field
    op: str
    value: Scalar

    def __post_init__(self) -> None:
        _check_compare(self)


@dataclass(frozen=True, slots=True)
class In:
    """``field`` equals one of ``values``; for tags: the run has any of these tags."""

    field: Field
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        _check_in(self)


@dataclass(frozen=True, slots=True)
class Contains:
    """The run carries tag ``value`` (``field`` is always ``tags``)."""

    field: Field
    value: str

    def __post_init__(self) -> None:
        if self.field.scope != "tags" or not isinstance(self.value, str):
            raise ValidationError(
                f"contains needs tags and a string, got {self.field} contains {self.value!r}; "
                'write tags contains "best" (use ~ for text fields)')


@dataclass(frozen=True, slots=True)
class Exists:
    """The field is present (a JSON path, even holding null) or not SQL NULL (a column)."""

    field: Field

    def __post_init__(self) -> None:
        if self.field.scope == "tags":
            raise ValidationError('tags exists is not supported; use tags contains "x"')


Node: TypeAlias = "And | Or | Not | Compare | In | Contains | Exists"
OrderKey: TypeAlias = "tuple[Field, bool]"

_GRAMMAR = r"""
?filter: disjunction
?disjunction: conjunction (_OR conjunction)*
?conjunction: negation (_AND negation)*
?negation: _NOT negation -> not_
         | "(" disjunction ")"
         | field COMPARE _value        -> compare
         | field _IN list              -> in_
         | field _NOT _IN list         -> not_in
         | field _CONTAINS _value      -> contains
         | field _EXISTS               -> exists
list: "[" (_value ("," _value)* ","?)? "]"
field: NAME ("." (NAME | QUOTED_NAME))*
order: order_key ("," order_key)*
order_key: SIGN? field
_value: NUMBER | STRING | TRUE | FALSE | NULL

_OR.2: /(?i:or)\b/ | "||"
_AND.2: /(?i:and)\b/ | "&&"
_NOT.2: /(?i:not)\b/ | /!(?!=)/
_IN.2: /(?i:in)\b/
_CONTAINS.2: /(?i:contains)\b/
_EXISTS.2: /(?i:exists)\b/
TRUE.2: /(?i:true)\b/
FALSE.2: /(?i:false)\b/
NULL.2: /(?i:null)\b/
COMPARE: /==|!=|<=|>=|=|<|>|~/
SIGN: /[+-]/
NAME: /[^\W\d][\w\-\/]*/
QUOTED_NAME: /`(?:[^`]|``)+`/
NUMBER: /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/
STRING: /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/s
%ignore /\s+/
"""
_BARE_SEGMENT = re.compile(r"[^\W\d][\w\-/]*")


@functools.cache
def _parser(start: str) -> Lark:
    # Built on first use (tens of ms), one table per entry point so that syntax errors list
    # only what that kind of input can expect.
    return Lark(_GRAMMAR, parser="lalr", start=start)


_EXPECTED_WORDS = {
    "NAME": "a field name", "QUOTED_NAME": "a `quoted` key", "COMPARE": "an operator (= != < > ~)",
    "_IN": "in", "_NOT": "not", "_CONTAINS": "contains", "_EXISTS": "exists", "_AND": "and",
    "_OR": "or", "NUMBER": "a number", "STRING": "a quoted string", "TRUE": "true",
    "FALSE": "false", "NULL": "null", "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]",
    "COMMA": ",", "DOT": ".", "SIGN": "+ or -", "$END": "the end",
}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\",
            '"': '"', "'": "'"}


def parse_filter(text: str) -> Node:
    """Parse a text filter into an AST.

    Args:
        text: e.g. ``config.lr > 0.01 and tags contains "best"``; blank means every run.

    Returns:
        The root node; ``And(())`` for blank text.

    Raises:
        ValidationError: a syntax error (with its column and what was expected), an unknown
            field, a value of the wrong type, or an expression over the complexity caps.
    """
    tree = _parse(text, "filter")
    if tree is None:
        return And(())
    return _Builder().node(tree, 1)


def parse_order(text: str) -> list[OrderKey]:
    """Parse a sort spec like ``"-summary.loss,+created_at,name"``.

    Args:
        text: comma-separated fields, each optionally prefixed ``+`` (ascending, the default)
            or ``-`` (descending); blank means no ordering.

    Returns:
        ``(field, descending)`` pairs, most significant first.

    Raises:
        ValidationError: a syntax error, an unknown or unsortable field, too many keys.
    """
    tree = _parse(text, "order")
    if tree is None:
        return []
    keys = [_order_key(item) for item in tree.children if isinstance(item, Tree)]
    if len(keys) > MAX_ORDER_KEYS:
        raise ValidationError(f"order has {len(keys)} keys; use at most {MAX_ORDER_KEYS}")
    return keys


def parse_field(text: str) -> Field:
    """Parse one field reference such as ``summary.`val/loss``` (aliases resolved)."""
    tree = _parse(text, "field")
    if tree is None:
        raise ValidationError("field is empty; name one, e.g. config.lr or state")
    return _field(tree)


def _parse(text: str, what: str) -> Tree[Token] | None:
    if not isinstance(text, str):
        raise ValidationError(f"{what} must be a string, got {type(text).__name__}")
    if len(text) > MAX_FILTER_CHARS:
        raise ValidationError(
            f"{what} of {len(text)} characters is longer than {MAX_FILTER_CHARS}; simplify it")
    if not text.strip():
        return None
    try:
        return _parser(what).parse(text)
    except UnexpectedInput as exc:
        raise ValidationError(_syntax_message(text, what, exc)) from None
    except LarkError as exc:  # anything else lark may raise is still a bad input
        raise ValidationError(f"invalid {what} {_excerpt(text, 1)}: {exc}") from None


def _syntax_message(text: str, what: str, exc: UnexpectedInput) -> str:
    column = exc.column if isinstance(exc.column, int) and exc.column > 0 else len(text) + 1
    if isinstance(exc, UnexpectedToken):
        at_end = exc.token.type == "$END"
        got = "the end" if at_end else repr(str(exc.token))
        column = len(text.rstrip()) + 1 if at_end else column
        expected: set[str] = set(exc.expected)
    elif isinstance(exc, UnexpectedCharacters):
        got, expected = repr(exc.char), set(exc.allowed or ())
    else:
        got, expected = "the end", set(getattr(exc, "expected", ()) or ())
    words = sorted({_EXPECTED_WORDS.get(name, name.lower()) for name in expected})
    hint = f"; expected {' or '.join(words)}" if words else ""
    return f"invalid {what} at column {column}: unexpected {got}{hint} (near {_excerpt(text, column)})"


def _excerpt(text: str, column: int) -> str:
    start = max(column - 21, 0)
    return repr(text[start:start + 40])


class _Builder:
    """Turns a parse tree into nodes, counting nodes and depth as it goes (iterative caps)."""

    def __init__(self) -> None:
        self.count = 0

    def node(self, tree: Tree[Token], depth: int) -> Node:
        self.count += 1
        _check_size(self.count, depth)
        kind, kids = tree.data, tree.children
        if kind in ("disjunction", "conjunction"):
            items = tuple(self.node(_tree(kid), depth + 1) for kid in kids)
            return Or(items) if kind == "disjunction" else And(items)
        if kind == "not_":
            return Not(self.node(_tree(kids[0]), depth + 1))
        return _predicate(str(kind), kids)


def _predicate(kind: str, kids: list[Any]) -> Node:
    field = _field(kids[0])
    if kind == "compare":
        op = "=" if kids[1] == "==" else str(kids[1])
        return make_compare(field, op, _value(kids[2]))
    if kind in ("in_", "not_in"):
        node = make_in(field, [_value(tok) for tok in kids[-1].children])
        return Not(node) if kind == "not_in" else node
    if kind == "contains":
        return Contains(field, _value(kids[1]))  # type: ignore[arg-type]
    return Exists(field)


def _tree(item: Any) -> Tree[Token]:
    if not isinstance(item, Tree):
        raise ValidationError(f"invalid filter: unexpected {item!r}")
    return item


def _field(tree: Tree[Token]) -> Field:
    tokens = [str(tok) for tok in tree.children]
    scope = _ALIASES.get(tokens[0], tokens[0])
    path = (tok[1:-1].replace("``", "`") if tok.startswith("`") else tok for tok in tokens[1:])
    return Field(scope, tuple(map(_nfc, path)))


def _nfc(segment: str) -> str:
    # Stored keys are NFC (kiseki.core.keys); a key typed decomposed must still match.
    return unicodedata.normalize("NFC", segment) if _is_utf8(segment) else segment


def _order_key(tree: Tree[Token]) -> OrderKey:
    sign = tree.children[0] if len(tree.children) == 2 else "+"
    field = _field(tree.children[-1])  # type: ignore[arg-type]
    if field.scope == "tags":
        raise ValidationError("tags cannot be sorted on; sort by a config, summary or run field")
    return field, sign == "-"


def _value(token: Token) -> Scalar:
    kind, text = token.type, str(token)
    if kind == "STRING":
        return _unescape(text[1:-1], token.column or 0)
    if kind == "NUMBER":
        return _number(text)
    return {"TRUE": True, "FALSE": False, "NULL": None}[kind]


def _number(text: str) -> int | float:
    value: int | float = int(text) if text.lstrip("-").isdigit() else float(text)
    if isinstance(value, int) and abs(value) > _INT64:
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"number {text[:40]} is out of range; use a finite float")
    return value


def _unescape(body: str, column: int) -> str:
    out: list[str] = []
    chars = iter(body)
    for ch in chars:
        out.append(ch if ch != "\\" else _escape(chars, column))
    return "".join(out)


def _escape(chars: Iterator[str], column: int) -> str:
    code = next(chars, "")
    if code in _ESCAPES:
        return _ESCAPES[code]
    digits = "".join(next(chars, "") for _ in range(4)) if code == "u" else ""
    if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return chr(int(digits, 16))
    raise ValidationError(
        f"invalid escape \\{code}{digits} in the string at column {column}; "
        'use \\" \\\' \\\\ \\n \\t or \\uXXXX')


def make_compare(field: Field, op: str, value: Any) -> Compare:
    """Build ``field op value``, turning ISO-8601 strings into epoch seconds for time fields."""
    return Compare(field, op, value if op == "~" else _coerce(field, value))


def make_in(field: Field, values: list[Any] | tuple[Any, ...]) -> In:
    """Build ``field in values`` (checking the cap before converting any value)."""
    if len(values) > MAX_IN_VALUES:
        raise ValidationError(
            f"in-list for {field} has {len(values)} values; use at most {MAX_IN_VALUES}")
    return In(field, tuple(_coerce(field, value) for value in values))


def _coerce(field: Field, value: Any) -> Any:
    if field.scope not in TIME_SCOPES or not isinstance(value, str):
        return value
    try:
        moment = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{field} takes epoch seconds or an ISO-8601 time, got {value[:60]!r}; "
            'e.g. created_at > "2024-05-01T12:00:00Z"') from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment.timestamp()


def check_caps(root: Node) -> None:
    """Raise ValidationError if ``root`` is over ``MAX_NODES`` nodes or ``MAX_DEPTH`` deep."""
    count, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        _check_size(count, depth)
        if isinstance(node, (And, Or)):
            stack.extend((item, depth + 1) for item in node.items)
        elif isinstance(node, Not):
            stack.append((node.item, depth + 1))


def _check_size(count: int, depth: int) -> None:
    if count > MAX_NODES:
        raise ValidationError(
            f"filter has more than {MAX_NODES} terms; simplify it (use in [..] for many values)")
    if depth > MAX_DEPTH:
        raise ValidationError(f"filter is nested deeper than {MAX_DEPTH} levels; flatten it")


def _check_field(field: Field) -> None:
    if field.scope not in SCOPES:
        names = ", ".join(sorted(SCOPES - JSON_SCOPES))
        raise ValidationError(
            f"unknown field {field.scope[:60]!r}; use config.<key>, summary.<key> or one of {names}")
    if field.scope in JSON_SCOPES and not field.path:
        raise ValidationError(f"{field.scope} needs a key, e.g. {field.scope}.lr")
    if field.scope not in JSON_SCOPES and field.path:
        raise ValidationError(f"{field.scope} has no keys; write {field.scope} alone")
    if len(field.path) > MAX_PATH_SEGMENTS:
        raise ValidationError(f"{field.scope} path is deeper than {MAX_PATH_SEGMENTS} keys")
    for segment in field.path:
        _check_segment(field.scope, segment)


def _check_segment(scope: str, segment: str) -> None:
    if not isinstance(segment, str) or not segment or len(segment) > MAX_SEGMENT_CHARS:
        raise ValidationError(
            f"{scope} key {str(segment)[:60]!r} must be 1-{MAX_SEGMENT_CHARS} characters")
    # The SQLite JSON path syntax cannot quote '"'; NUL cannot be stored in PostgreSQL text.
    if '"' in segment or "\x00" in segment or not _is_utf8(segment):
        raise ValidationError(
            f"{scope} key {segment[:60]!r} contains '\"', NUL or a lone surrogate; "
            "such keys cannot be filtered on")
    if unicodedata.normalize("NFC", segment) != segment:
        raise ValidationError(f"{scope} key {segment[:60]!r} is not NFC-normalised Unicode")


def _check_scalar(field: Field, value: Any) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > _INT64:
            raise ValidationError(f"value {value} for {field} is out of the 64-bit range")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"value {value} for {field} must be a finite number")
        return
    if isinstance(value, str):
        if "\x00" in value or not _is_utf8(value):
            raise ValidationError(f"string for {field} contains NUL or a lone surrogate; remove it")
        return
    raise ValidationError(
        f"value for {field} must be a number, string, true, false or null, "
        f"got {type(value).__name__}")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_compare(node: Compare) -> None:
    field, op, value = node.field, node.op, node.value
    if op not in COMPARE_OPS:
        raise ValidationError(f"unknown operator {op!r}; use one of {' '.join(sorted(COMPARE_OPS))}")
    if field.scope == "tags":
        raise ValidationError(f'tags cannot be compared with {op}; write tags contains "x"')
    _check_scalar(field, value)
    if op == "~" and (not isinstance(value, str) or field.scope in TIME_SCOPES):
        raise ValidationError(f'~ needs a text field and a string, e.g. name ~ "test"; got {field}')
    if op in ORDERED_OPS and (value is None or isinstance(value, bool)):
        raise ValidationError(f"{field} {op} needs a number or string, got {_show(value)}")
    _check_kind(field, value)


def _check_in(node: In) -> None:
    if not isinstance(node.values, tuple):
        raise ValidationError(f"in-list for {node.field} must be a list of values")
    if len(node.values) > MAX_IN_VALUES:
        raise ValidationError(
            f"in-list for {node.field} has {len(node.values)} values; use at most {MAX_IN_VALUES}")
    for value in node.values:
        _check_scalar(node.field, value)
        if node.field.scope == "tags" and not isinstance(value, str):
            raise ValidationError(f"tags in [..] takes strings, got {_show(value)}")
        _check_kind(node.field, value)


def _check_kind(field: Field, value: Scalar) -> None:
    if value is None or field.scope in JSON_SCOPES or field.scope == "tags":
        return
    if field.scope in TEXT_SCOPES and not isinstance(value, str):
        raise ValidationError(f'{field} is text; quote the value: {field} = "{_show(value)}"')
    if field.scope in TIME_SCOPES and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValidationError(f"{field} takes epoch seconds or an ISO-8601 time, got {_show(value)}")


def _show(value: Scalar) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(value)[:60]


# --- Mongo-style dicts (the wandb public API shape) -------------------------------------------

_MONGO_COMPARE = {"$eq": "=", "$ne": "!=", "$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_REGEX_META = frozenset(".^$*+?()[]{}|\\")


def from_mongo(query: Mapping[str, Any]) -> Node:
    """Translate a wandb/Mongo-style filter dict into an AST.

    Args:
        query: e.g. ``{"$and": [{"config.lr": {"$gt": 0.01}}, {"tags": "best"}]}``. Keys are
            fields (dots split paths; ``display_name``, ``createdAt`` and similar aliases work)
            or ``$and``/``$or``/``$nor``/``$not``; ``{}`` matches every run.

    Returns:
        The root node.

    Raises:
        ValidationError: an unknown operator, a regex with metacharacters, a value of the
            wrong type, or a query over the complexity caps.
    """
    root = _mongo_document(query, 1)
    check_caps(root)
    return root


def _mongo_document(doc: Any, depth: int) -> Node:
    if not isinstance(doc, Mapping):
        raise ValidationError(f"filter must be an object, got {type(doc).__name__}")
    _check_size(0, depth)
    if len(doc) == 1:
        return _mongo_entry(*next(iter(doc.items())), depth)
    return And(tuple(_mongo_entry(key, value, depth + 1) for key, value in doc.items()))


def _mongo_entry(key: Any, value: Any, depth: int) -> Node:
    if not isinstance(key, str):
        raise ValidationError(f"filter keys must be strings, got {key!r:.60}")
    if key in ("$and", "$or", "$nor"):
        items = tuple(_mongo_document(doc, depth + 1) for doc in _doc_list(key, value))
        return And(items) if key == "$and" else Or(items) if key == "$or" else Not(Or(items))
    if key == "$not":
        return Not(_mongo_document(value, depth + 1))
    if key.startswith("$"):
        raise ValidationError(f"unknown operator {key[:40]!r}; use $and, $or, $nor or $not")
    return _mongo_condition(_mongo_field(key), value, depth)


def _mongo_condition(field: Field, value: Any, depth: int) -> Node:
    _check_size(0, depth)
    if not isinstance(value, Mapping):
        return _mongo_eq(field, value)
    if not value or not all(isinstance(op, str) and op.startswith("$") for op in value):
        raise ValidationError(
            f"{field}: comparing with an object is not supported; use operators like "
            '{"$gt": 1}')
    _check_options(field, value)
    ops = [(op, arg) for op, arg in value.items() if op != "$options"]
    if len(ops) == 1:
        return _mongo_operator(field, *ops[0], depth)
    return And(tuple(_mongo_operator(field, op, arg, depth + 1) for op, arg in ops))


def _doc_list(key: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{key} needs a non-empty list of filter objects")
    if len(value) > MAX_NODES:
        raise ValidationError(f"{key} has {len(value)} items; use at most {MAX_NODES}")
    return value


def _value_list(field: Field, op: str, value: Any) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"{field}: {op} needs a list of values, got {type(value).__name__}")
    if len(value) > MAX_IN_VALUES:
        raise ValidationError(
            f"{field}: {op} has {len(value)} values; use at most {MAX_IN_VALUES}")
    return list(value)


def _mongo_field(key: str) -> Field:
    if "`" in key:
        return parse_field(key)
    scope, *path = key.split(".")
    return Field(_ALIASES.get(scope, scope), tuple(map(_nfc, path)))


def _mongo_eq(field: Field, value: Any) -> Node:
    if isinstance(value, (list, tuple, Mapping)):
        raise ValidationError(f"{field}: use $in for lists; plain values mean equality")
    if field.scope == "tags":
        return Contains(field, value)
    return make_compare(field, "=", value)


def _mongo_operator(field: Field, op: str, arg: Any, depth: int) -> Node:
    if op == "$not":
        return Not(_mongo_condition(field, arg, depth + 1))
    if op == "$all" and field.scope == "tags":
        return And(tuple(Contains(field, tag) for tag in _value_list(field, op, arg)))
    if op in ("$eq", "$ne") and field.scope == "tags":
        node = _mongo_eq(field, arg)
        return Not(node) if op == "$ne" else node
    if op in _MONGO_COMPARE:
        if isinstance(arg, (list, tuple, Mapping)):
            raise ValidationError(f"{field}: {op} takes a single value, got {type(arg).__name__}")
        return make_compare(field, _MONGO_COMPARE[op], arg)
    if op in ("$in", "$nin"):
        node = make_in(field, _value_list(field, op, arg))
        return Not(node) if op == "$nin" else node
    if op == "$exists":
        if not isinstance(arg, bool):
            raise ValidationError(f"{field}: $exists takes true or false, got {arg!r:.40}")
        return Exists(field) if arg else Not(Exists(field))
    if op == "$regex":
        return make_compare(field, "~", _plain_regex(field, arg))
    raise ValidationError(
        f"{field}: unsupported operator {op[:40]!r}; use $eq $ne $lt $lte $gt $gte $in $nin "
        "$exists $regex $not")


def _plain_regex(field: Field, pattern: Any) -> str:
    if not isinstance(pattern, str) or any(ch in _REGEX_META for ch in pattern):
        raise ValidationError(
            f"{field}: $regex supports plain substrings only (matched case-insensitively), "
            f"got {pattern!r:.60}; remove regex metacharacters")
    return pattern


def _check_options(field: Field, value: Mapping[str, Any]) -> None:
    if "$options" in value and ("$regex" not in value or value["$options"] not in ("", "i")):
        raise ValidationError(f'{field}: $options is only allowed as "i" beside $regex')
