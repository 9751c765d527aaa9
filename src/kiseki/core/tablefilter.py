"""Filter expressions over the rows of a logged table, and the predicates they compile to.

Written for finding where a model fails::

    "bicycle" in ground_truth.classes and iou < 0.5

Names are column names (backticks for names with spaces or dots: ```my col```). An image
column also answers ``<col>.<layer>.classes`` (names of the classes present in that mask or box
layer; ``class_ids`` for their ids), ``<col>.classes`` (over every layer), ``<col>.caption``,
``.width`` and ``.height``; when only one image column has a layer, ``<layer>.classes`` alone is
enough. Operators: ``= == != < <= > >=``, ``~`` (case-insensitive substring), ``VALUE in
name`` (membership in a class list or substring of a text), ``name in [..]``, ``name not in
[..]``, ``and or not`` (or ``&& || !``) and parentheses. A comparison between different kinds
(a number with a text) is false, and ``!=`` its complement. Parsed by a real grammar; nothing
is evaluated as code. Complexity is capped like run filters.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

from kiseki.core.errors import ValidationError

MAX_CHARS = 10_000
MAX_NODES = 200
MAX_LIST = 1_000

Row = Sequence[Any]
Predicate = Callable[[Row], bool]

_GRAMMAR = r"""
?start: disjunction
?disjunction: conjunction (_OR conjunction)*
?conjunction: negation (_AND negation)*
?negation: _NOT negation            -> not_
         | "(" disjunction ")"
         | path COMPARE value       -> compare
         | value _IN path           -> member
         | path _IN list            -> one_of
         | path _NOT _IN list       -> not_one_of
list: "[" (value ("," value)* ","?)? "]"
path: NAME ("." (NAME | QUOTED))*
    | QUOTED ("." (NAME | QUOTED))*
?value: NUMBER | STRING | TRUE | FALSE | NULL

_OR.2: /(?i:or)\b/ | "||"
_AND.2: /(?i:and)\b/ | "&&"
_NOT.2: /(?i:not)\b/ | /!(?!=)/
_IN.2: /(?i:in)\b/
TRUE.2: /(?i:true)\b/
FALSE.2: /(?i:false)\b/
NULL.2: /(?i:null)\b/
COMPARE: /==|!=|<=|>=|=|<|>|~/
NAME: /[^\W\d][\w\-\/]*/
QUOTED: /`(?:[^`]|``)+`/
NUMBER: /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/
STRING: /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/s
%ignore /\s+/
"""


@functools.cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", start="start")


def compile_filter(text: str, columns: Sequence[str],
                   image_layers: Mapping[str, Sequence[str]] | None = None) -> Predicate | None:
    """Compile ``text`` into a predicate over rows (lists of cells, in ``columns`` order).

    Args:
        text: the expression; blank means every row (``None`` is returned).
        columns: the table's column names.
        image_layers: for each image column, the names of its mask and box layers (so that
            ``ground_truth.classes`` can name the column implicitly).

    Raises:
        ValidationError: a syntax error (with its column), an unknown column, an ambiguous
            layer name or an expression over the caps.
    """
    if not isinstance(text, str):
        raise ValidationError(f"table filter must be a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ValidationError(f"table filter of {len(text)} characters is longer than "
                              f"{MAX_CHARS}; simplify it")
    if not text.strip():
        return None
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        column = getattr(exc, "column", "?")
        raise ValidationError(
            f"table filter has a syntax error at column {column}: {_excerpt(text, exc)}; "
            'write e.g. "bicycle" in ground_truth.classes and iou < 0.5') from None
    except LarkError as exc:
        raise ValidationError(f"table filter does not parse: {exc}") from None
    builder = _Builder(list(columns), dict(image_layers or {}))
    return builder.build(tree)


def _excerpt(text: str, exc: UnexpectedInput) -> str:
    pos = getattr(exc, "pos_in_stream", None) or 0
    return repr(text[max(0, pos - 20):pos + 20])


class _Builder:
    def __init__(self, columns: list[str], layers: dict[str, Sequence[str]]) -> None:
        self.index = {name: i for i, name in enumerate(columns)}
        self.layers = layers
        self.nodes = 0

    def build(self, tree: Tree[Token] | Token) -> Predicate:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ValidationError(f"table filter has more than {MAX_NODES} parts; simplify it")
        if not isinstance(tree, Tree):
            raise ValidationError(f"table filter: {tree!s} alone is not a condition; compare "
                                  "it, e.g. iou < 0.5")
        kind = tree.data
        kids = tree.children
        if kind == "disjunction":
            parts = [self.build(k) for k in kids]
            return lambda row: any(p(row) for p in parts)
        if kind == "conjunction":
            parts = [self.build(k) for k in kids]
            return lambda row: all(p(row) for p in parts)
        if kind == "not_":
            inner = self.build(kids[0])
            return lambda row: not inner(row)
        if kind == "compare":
            getter = self.path(kids[0])
            return _compare(getter, str(kids[1]), _literal(kids[2]))
        if kind == "member":
            needle = _literal(kids[0])
            getter = self.path(kids[1])
            return lambda row: _contains(getter(row), needle)
        if kind in ("one_of", "not_one_of"):
            getter = self.path(kids[0])
            items = kids[1].children if isinstance(kids[1], Tree) else []
            values = [_literal(v) for v in items]
            if len(values) > MAX_LIST:
                raise ValidationError(f"table filter list has {len(values)} values; use at "
                                      f"most {MAX_LIST}")
            pred = _one_of(getter, values)
            return pred if kind == "one_of" else (lambda row: not pred(row))
        raise ValidationError(f"table filter: unsupported expression {kind}")

    def path(self, tree: Tree[Token] | Token) -> Callable[[Row], Any]:
        if not isinstance(tree, Tree):
            raise ValidationError(f"table filter: expected a column name, got {tree!s}")
        segments = [_segment(t) for t in tree.children if isinstance(t, Token)]
        head = segments[0]
        if head not in self.index:
            owners = [col for col, names in self.layers.items() if head in names]
            if len(owners) == 1:
                segments = [owners[0], *segments]
            elif len(owners) > 1:
                raise ValidationError(
                    f"table filter: layer {head!r} is in image columns {owners}; name the "
                    f"column, e.g. {owners[0]}.{'.'.join(segments)}")
            else:
                known = ", ".join(list(self.index)[:20])
                raise ValidationError(f"table filter: no column {head!r}; columns are {known}")
        col = self.index[segments[0]]
        rest = tuple(segments[1:])
        if not rest:
            return lambda row: row[col] if col < len(row) else None
        return lambda row: _walk(row[col] if col < len(row) else None, rest)


def _segment(token: Token) -> str:
    text = str(token)
    if token.type == "QUOTED":
        return text[1:-1].replace("``", "`")
    return text


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/"}


def _literal(token: Any) -> Any:
    kind = getattr(token, "type", None)
    text = str(token)
    if kind == "NUMBER":
        number = float(text)
        return int(number) if re.fullmatch(r"-?\d+", text) else number
    if kind == "STRING":
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])
    if kind == "TRUE":
        return True
    if kind == "FALSE":
        return False
    if kind == "NULL":
        return None
    raise ValidationError(f"table filter: {text!r} is not a value")


def _walk(cell: Any, path: tuple[str, ...]) -> Any:
    """Follow ``path`` into a cell; image descriptors answer classes, caption, sizes."""
    if isinstance(cell, Mapping) and cell.get("_type") == "image":
        return _image_field(cell, path)
    value = cell
    for segment in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(segment)
    return value


def _image_field(image: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    if len(path) == 1:
        if path[0] in ("classes", "class_ids"):
            names: list[Any] = []
            for layer in _layers(image):
                names.extend(_layer_classes(image, layer, path[0] == "class_ids"))
            return names
        return image.get(path[0]) if path[0] in ("caption", "width", "height") else None
    if len(path) == 2 and path[1] in ("classes", "class_ids"):
        return _layer_classes(image, path[0], path[1] == "class_ids")
    return None


def _layers(image: Mapping[str, Any]) -> list[str]:
    return [*(image.get("masks") or {}), *(image.get("boxes") or {})]


def _layer_classes(image: Mapping[str, Any], layer: str, ids: bool) -> list[Any]:
    """Classes present in a layer: mask classes with pixels, box classes with boxes."""
    out: list[Any] = []
    mask = (image.get("masks") or {}).get(layer)
    if mask:
        labels = mask.get("class_labels") or {}
        for cid, count in (mask.get("class_counts") or {}).items():
            if count:
                out.append(int(cid) if ids else labels.get(str(cid), f"class {cid}"))
    boxes = (image.get("boxes") or {}).get(layer)
    if boxes:
        labels = boxes.get("class_labels") or {}
        for cid in boxes.get("classes") or []:
            out.append(int(cid) if ids else labels.get(str(cid), f"class {cid}"))
    return out


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _same_kind(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return True
    return type(a) is type(b)


def _compare(getter: Callable[[Row], Any], op: str, value: Any) -> Predicate:
    if op == "~":
        needle = str(value).casefold()
        return lambda row: (v := getter(row)) is not None and needle in str(v).casefold()
    if op in ("=", "=="):
        return lambda row: _equal(getter(row), value)
    if op == "!=":
        return lambda row: not _equal(getter(row), value)
    if value is None or isinstance(value, bool):
        raise ValidationError(f"table filter: {op} needs a number or a text, got "
                              f"{str(value).lower()}")
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    }
    fn = ops[op]

    def ordered(row: Row) -> bool:
        cell = getter(row)
        if cell is None or isinstance(cell, bool) or not _same_kind(cell, value):
            return False
        return bool(fn(cell, value))  # NaN compares false, as it should

    return ordered


def _equal(cell: Any, value: Any) -> bool:
    if value is None:
        return cell is None
    if isinstance(value, bool) or isinstance(cell, bool):
        return cell is value
    if _is_number(cell) and _is_number(value):
        return bool(cell == value)
    return type(cell) is type(value) and cell == value


def _contains(container: Any, needle: Any) -> bool:
    if isinstance(container, str):
        return isinstance(needle, str) and needle in container
    if isinstance(container, (list, tuple, set, frozenset)):
        return any(_equal(item, needle) for item in container)
    return False


def _one_of(getter: Callable[[Row], Any], values: list[Any]) -> Predicate:
    return lambda row: any(_equal(getter(row), v) for v in values)


def sort_key(value: Any) -> tuple[int, Any]:
    """Order cells of one column: numbers, then texts, then everything else; NaN and None last."""
    if _is_number(value):
        if isinstance(value, float) and math.isnan(value):
            return (3, 0)
        return (0, value)
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, str):
        return (1, value)
    if value is None:
        return (4, 0)
    return (2, str(value.get("caption") or "") if isinstance(value, Mapping) else str(value))
