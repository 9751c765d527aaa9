"""Compiling filter ASTs (``kiseki.core.filters``) to SQLAlchemy expressions on ``runs`` (I13).

Every user value and every JSON path reaches the database as a bound parameter; the only SQL
text produced here is fixed by this module. Predicates are made two-valued (never SQL NULL), so
``NOT`` is the exact complement the filter language promises.

JSON paths compare by JSON type: ``config.lr > 0.01`` matches JSON numbers only, ``= "x"`` JSON
strings only, ``= true`` JSON booleans only; ``{"$float": "nan"}`` objects match no comparison.
A multi-key path such as ``summary.train.loss`` also finds the flat key ``"train.loss"`` (how
the SDK stores flattened history keys) when the nested path is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement

from kiseki.core.errors import ValidationError
from kiseki.core.filters import (
    JSON_SCOPES,
    And,
    Compare,
    Contains,
    Exists,
    Field,
    In,
    Node,
    Not,
    Or,
    OrderKey,
    Scalar,
)

_COLUMNS = {"group": "run_group"}
_LIKE_ESCAPE = "\\"
_SQLITE_KINDS = {"number": ("integer", "real"), "string": ("text",), "true": ("true",),
                 "false": ("false",), "null": ("null",)}
_POSTGRES_KINDS = {"number": ("number",), "string": ("string",), "true": ("boolean",),
                   "false": ("boolean",), "null": ("null",)}


def compile_filter(node: Node, runs: sa.Table, dialect_name: str) -> ColumnElement[bool]:
    """Compile a filter AST into a WHERE clause over ``runs``.

    Args:
        node: from ``parse_filter`` or ``from_mongo``.
        runs: the ``kiseki.store.tables.runs`` table (or an alias of it).
        dialect_name: ``engine.dialect.name``: ``"sqlite"`` or ``"postgresql"``.

    Returns:
        A boolean expression that is never SQL NULL.

    Raises:
        ValidationError: the AST holds something the compiler does not know.
        ValueError: an unsupported dialect.
    """
    return _Compiler(runs, _json_dialect(dialect_name)).node(node)


def compile_order(order: Sequence[OrderKey], runs: sa.Table,
                  dialect_name: str) -> list[ColumnElement[Any]]:
    """Compile ``parse_order`` output into ORDER BY expressions.

    JSON paths sort numbers (numerically) before strings before other values, and runs lacking
    the key last in both directions; columns sort NULLs last. Callers add a unique tie-breaker.

    Args:
        order: ``(field, descending)`` pairs.
        runs: the ``runs`` table.
        dialect_name: ``"sqlite"`` or ``"postgresql"``.

    Returns:
        Expressions for ``select(...).order_by(*exprs)``.
    """
    compiler = _Compiler(runs, _json_dialect(dialect_name))
    return [expr for field, desc in order for expr in compiler.order(field, desc)]


class _JsonRef:
    """One JSON path of one row: its type name, a comparable value and its text."""

    def __init__(self, type_name: ColumnElement[Any], value: ColumnElement[Any],
                 text: ColumnElement[Any]) -> None:
        self.type_name, self.value, self.text = type_name, value, text


class _SQLiteJson:
    kinds = _SQLITE_KINDS

    def ref(self, doc: ColumnElement[Any], path: tuple[str, ...]) -> _JsonRef:
        first = _bind(_sqlite_path(path))
        type_name: ColumnElement[Any] = sa.func.json_type(doc, first)
        value: ColumnElement[Any] = sa.func.json_extract(doc, first)
        if len(path) > 1:
            flat = _bind(_sqlite_path((".".join(path),)))
            value = sa.case((type_name.is_not(None), value), else_=sa.func.json_extract(doc, flat))
            type_name = sa.func.coalesce(type_name, sa.func.json_type(doc, flat))
        return _JsonRef(type_name, value, value)

    def operand(self, value: Scalar) -> ColumnElement[Any]:
        return _bind(value)

    def has_tag(self, tags: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
        each = sa.func.json_each(tags).table_valued("value", "type")
        hit = each.c.value.in_(values) if len(values) > 1 else each.c.value == _bind(values[0])
        return sa.select(sa.literal(1)).select_from(each).where(
            each.c.type == "text", hit).exists()


class _PostgresJson:
    kinds = _POSTGRES_KINDS

    def ref(self, doc: ColumnElement[Any], path: tuple[str, ...]) -> _JsonRef:
        doc = sa.type_coerce(doc, JSONB)
        first = _bind(list(path), ARRAY(sa.Text))
        value: ColumnElement[Any] = doc.op("#>", return_type=JSONB)(first)
        text: ColumnElement[Any] = doc.op("#>>", return_type=sa.Text)(first)
        if len(path) > 1:
            flat = _bind([".".join(path)], ARRAY(sa.Text))
            value = sa.func.coalesce(value, doc.op("#>", return_type=JSONB)(flat), type_=JSONB)
            text = sa.func.coalesce(text, doc.op("#>>", return_type=sa.Text)(flat))
        return _JsonRef(sa.func.jsonb_typeof(value), value, text)

    def operand(self, value: Scalar) -> ColumnElement[Any]:
        return _bind(value, JSONB)

    def has_tag(self, tags: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
        doc = sa.type_coerce(tags, JSONB)
        if len(values) == 1:
            # @> on a one-element array: the form a GIN index on tags can serve.
            return doc.op("@>", return_type=sa.Boolean)(_bind(list(values), JSONB))
        return doc.op("?|", return_type=sa.Boolean)(_bind(list(values), ARRAY(sa.Text)))


_JsonDialect = _SQLiteJson | _PostgresJson


def _json_dialect(name: str) -> _JsonDialect:
    if name == "sqlite":
        return _SQLiteJson()
    if name == "postgresql":
        return _PostgresJson()
    raise ValueError(f"filters support the sqlite and postgresql dialects, not {name!r}")


class _Compiler:
    def __init__(self, runs: sa.Table, json: _JsonDialect) -> None:
        self.runs, self.json = runs, json

    def node(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return sa.and_(*map(self.node, node.items)) if node.items else sa.true()
        if isinstance(node, Or):
            return sa.or_(*map(self.node, node.items)) if node.items else sa.false()
        if isinstance(node, Not):
            return sa.not_(self.node(node.item))
        if isinstance(node, Contains):
            return self.json.has_tag(self.runs.c.tags, [node.value])
        if isinstance(node, (Compare, In, Exists)):
            if node.field.scope == "tags":
                return self.tags(node)
            if node.field.scope in JSON_SCOPES:
                return _definite(self.json_predicate(node))
            return self.column_predicate(node)
        raise ValidationError(f"cannot compile filter node {type(node).__name__}")

    def tags(self, node: Compare | In | Exists) -> ColumnElement[bool]:
        if not isinstance(node, In):
            raise ValidationError('tags supports contains and in [..]; write tags contains "x"')
        if not node.values:
            return sa.false()
        return self.json.has_tag(self.runs.c.tags, [str(value) for value in node.values])

    def json_predicate(self, node: Compare | In | Exists) -> ColumnElement[bool]:
        ref = self.json.ref(self.runs.c[node.field.scope], node.field.path)
        if isinstance(node, Exists):
            return ref.type_name.is_not(None)
        if isinstance(node, In):
            return sa.or_(sa.false(), *self.json_in(ref, node.values))
        if node.op == "!=":
            return sa.not_(_definite(self.json_equals(ref, node.value)))
        if node.op == "=":
            return self.json_equals(ref, node.value)
        if node.op == "~":
            return sa.and_(self.kind(ref, "string"), _ilike(ref.text, str(node.value)))
        kind = "string" if isinstance(node.value, str) else "number"
        compared = ref.value.op(node.op, is_comparison=True)(self.json.operand(node.value))
        return sa.and_(self.kind(ref, kind), compared)

    def json_equals(self, ref: _JsonRef, value: Scalar) -> ColumnElement[bool]:
        if value is None:
            return sa.func.coalesce(ref.type_name, "null") == "null"
        if isinstance(value, bool):
            return self.kind(ref, "true" if value else "false")
        kind = "string" if isinstance(value, str) else "number"
        return sa.and_(self.kind(ref, kind), ref.value == self.json.operand(value))

    def json_in(self, ref: _JsonRef, values: tuple[Scalar, ...]) -> list[ColumnElement[bool]]:
        strings = [v for v in values if isinstance(v, str)]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        parts = [self.json_equals(ref, v) for v in sorted(
            {v for v in values if v is None or isinstance(v, bool)}, key=repr)]
        for kind, group in (("string", strings), ("number", numbers)):
            if group:
                operands = [self.json.operand(v) for v in group]
                parts.append(sa.and_(self.kind(ref, kind), ref.value.in_(operands)))
        return parts

    def kind(self, ref: _JsonRef, kind: str) -> ColumnElement[bool]:
        names = self.json.kinds[kind]
        check = ref.type_name == names[0] if len(names) == 1 else ref.type_name.in_(names)
        if isinstance(self.json, _PostgresJson) and kind in ("true", "false"):
            return sa.and_(check, ref.value == self.json.operand(kind == "true"))
        return check

    def column_predicate(self, node: Compare | In | Exists) -> ColumnElement[bool]:
        column = self.column(node.field)
        if isinstance(node, Exists):
            return column.is_not(None)
        if isinstance(node, Compare) and node.op == "!=":
            return sa.not_(self.column_predicate(Compare(node.field, "=", node.value)))
        if isinstance(node, Compare) and node.value is None:
            return column.is_(None)
        clause = _column_in(column, node.values) if isinstance(node, In) else (
            _column_compare(column, node.op, node.value))
        # A NULL notes/group/job_type must read as "no match", not as unknown, for NOT to work.
        return _definite(clause) if column.nullable else clause

    def column(self, field: Field) -> sa.Column[Any]:
        return self.runs.c[_COLUMNS.get(field.scope, field.scope)]

    def order(self, field: Field, desc: bool) -> list[ColumnElement[Any]]:
        if field.scope == "tags":
            raise ValidationError("tags cannot be sorted on; sort by a config, summary or run field")
        if field.scope not in JSON_SCOPES:
            column = self.column(field)
            return [(column.desc() if desc else column.asc()).nulls_last()]
        ref = self.json.ref(self.runs.c[field.scope], field.path)
        rank = sa.case((self.kind(ref, "number"), 0), (self.kind(ref, "string"), 1),
                       (ref.type_name.is_not(None), 2), else_=3)
        return [rank.asc(), ref.value.desc() if desc else ref.value.asc()]


def _column_in(column: sa.Column[Any], values: tuple[Scalar, ...]) -> ColumnElement[bool]:
    present = [value for value in values if value is not None]
    clause: ColumnElement[bool] = column.in_(present) if present else sa.false()
    return sa.or_(clause, column.is_(None)) if None in values else clause


def _column_compare(column: sa.Column[Any], op: str, value: Scalar) -> ColumnElement[bool]:
    if op == "~":
        return _ilike(column, str(value))
    return column.op(op, is_comparison=True)(_bind(value))


def _sqlite_path(path: tuple[str, ...]) -> str:
    # Each key quoted so dots, slashes and spaces inside it stay part of the key; the core
    # refuses keys holding '"', which this syntax cannot express.
    return "$" + "".join(f'."{segment}"' for segment in path)


def _bind(value: Any, type_: Any = None) -> ColumnElement[Any]:
    return sa.bindparam(None, value, type_=type_, unique=True)


def _definite(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    return sa.func.coalesce(clause, sa.false(), type_=sa.Boolean)


def _ilike(expr: ColumnElement[Any], needle: str) -> ColumnElement[bool]:
    escaped = (needle.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
               .replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_"))
    return expr.ilike(_bind(f"%{escaped}%", sa.Text), escape=_LIKE_ESCAPE)
