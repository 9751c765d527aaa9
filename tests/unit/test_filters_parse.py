"""The run filter language: grammar, errors, caps (I13, I20), Mongo translation, sort specs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiseki.core.errors import ValidationError
from kiseki.core.filters import (
    MAX_DEPTH,
    MAX_FILTER_CHARS,
    MAX_IN_VALUES,
    MAX_NODES,
    And,
    Compare,
    Contains,
    Exists,
    Field,
    In,
    Not,
    Or,
    from_mongo,
    parse_field,
    parse_filter,
    parse_order,
)

LR = Field("config", ("lr",))
STATE = Field("state")
NAME = Field("name")
TAGS = Field("tags")


def cmp(field: Field, op: str, value: Any) -> Compare:
    return Compare(field, op, value)


# --- grammar ----------------------------------------------------------------------------------

def test_the_documented_example_parses_into_the_expected_tree() -> None:
    text = 'config.lr > 0.01 and (state = "finished" or tags contains "best") and not name ~ "test"'
    assert parse_filter(text) == And((
        cmp(LR, ">", 0.01),
        Or((cmp(STATE, "=", "finished"), Contains(TAGS, "best"))),
        Not(cmp(NAME, "~", "test")),
    ))


@pytest.mark.parametrize("text", [
    'config.lr > 1 AND state = "x" OR NOT name ~ "y"',
    'config.lr > 1 && state = "x" || ! name ~ "y"',
    'config.lr > 1 aNd state = "x" oR nOt name ~ "y"',
])
def test_keywords_are_case_insensitive_and_have_symbol_forms(text: str) -> None:
    assert parse_filter(text) == Or((
        And((cmp(LR, ">", 1), cmp(STATE, "=", "x"))),
        Not(cmp(NAME, "~", "y")),
    ))


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    a, b, c = (cmp(Field("config", (k,)), "=", 1) for k in "abc")
    assert parse_filter("config.a = 1 or config.b = 1 and config.c = 1") == Or((a, And((b, c))))
    assert parse_filter("(config.a = 1 or config.b = 1) and config.c = 1") == And((Or((a, b)), c))


@pytest.mark.parametrize(("op", "expected"), [
    ("=", "="), ("==", "="), ("!=", "!="), ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">="),
    ("~", "~"),
])
def test_every_comparison_operator(op: str, expected: str) -> None:
    assert parse_filter(f'config.lr {op} "v"') == cmp(LR, expected, "v")


@pytest.mark.parametrize(("literal", "value"), [
    ("3", 3), ("-3", -3), ("0.5", 0.5), ("-1.5e-3", -0.0015), ("2E3", 2000.0), (".25", 0.25),
    ("true", True), ("FALSE", False), ("null", None), ("Null", None),
    ('"double"', "double"), ("'single'", "single"), ('"a \\"q\\" b"', 'a "q" b'),
    ("'it\\'s'", "it's"), ('"tab\\tnl\\n\\\\"', "tab\tnl\n\\"), ('"\\u00e9"', "é"),
    ('"semi; -- not sql"', "semi; -- not sql"),
])
def test_value_literals(literal: str, value: Any) -> None:
    node = parse_filter(f"config.x = {literal}")
    assert isinstance(node, Compare)
    assert node.value == value and type(node.value) is type(value)


def test_field_paths_backticks_and_aliases() -> None:
    assert parse_filter("summary.`val/loss` < 0.3") == cmp(Field("summary", ("val/loss",)), "<", 0.3)
    assert parse_filter("config.opt.`beta 1`.x = 1").field == Field(  # type: ignore[union-attr]
        "config", ("opt", "beta 1", "x"))
    assert parse_filter("config.`a``b` = 1").field == Field(  # type: ignore[union-attr]
        "config", ("a`b",))
    assert parse_filter('id = "abc"') == cmp(Field("run_id"), "=", "abc")
    assert parse_filter('group = "g"') == cmp(Field("group"), "=", "g")
    assert parse_filter("config.and = 1").field == Field("config", ("and",))  # type: ignore[union-attr]


def test_unicode_keys_are_bare_names_and_normalised_to_nfc() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert parse_filter(f"config.`{decomposed}` = 1").field == Field(  # type: ignore[union-attr]
        "config", (composed,))
    assert parse_filter("config.学习率 > 0.1").field == Field(  # type: ignore[union-attr]
        "config", ("学习率",))
    assert from_mongo({f"config.{decomposed}": 1}) == cmp(Field("config", (composed,)), "=", 1)


@pytest.mark.parametrize("path", [("lr",), ("val/loss",), ("a b", "c"), ("a`b",), ("学习率",),
                                  ("and",), ("x-y",), ("1st",)])
def test_field_text_round_trips(path: tuple[str, ...]) -> None:
    field = Field("summary", path)
    assert parse_field(str(field)) == field


def test_in_not_in_contains_exists() -> None:
    assert parse_filter('state in ["a", "b",]') == In(STATE, ("a", "b"))
    assert parse_filter("config.lr not in [1, 2.5, null]") == Not(In(LR, (1, 2.5, None)))
    assert parse_filter("state in []") == In(STATE, ())
    assert parse_filter('tags contains "best"') == Contains(TAGS, "best")
    assert parse_filter('tags in ["a", "b"]') == In(TAGS, ("a", "b"))
    assert parse_filter("not config.lr exists") == Not(Exists(LR))
    assert parse_filter("notes exists") == Exists(Field("notes"))


def test_time_fields_take_epoch_seconds_or_iso_times() -> None:
    assert parse_filter("created_at > 1700000000") == cmp(Field("created_at"), ">", 1700000000)
    assert parse_filter('created_at >= "2024-01-01T00:00:00Z"') == cmp(
        Field("created_at"), ">=", 1704067200.0)
    assert parse_filter('updated_at < "2024-01-01"') == cmp(Field("updated_at"), "<", 1704067200.0)


def test_blank_text_matches_everything() -> None:
    assert parse_filter("") == And(())
    assert parse_filter("  \n\t ") == And(())


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "fragments"), [
    ("config.lr >> 1", ["column 12", "unexpected '>'", "a number"]),
    ("config.lr >", ["column 12", "unexpected the end", "a quoted string"]),
    ('state = "x" and', ["column 16", "a field name"]),
    ("(config.lr = 1", ["column 15", ")"]),
    ("config.lr = 1 )", ["column 15", "unexpected ')'"]),
    ("config.lr = 'unterminated", ["column 13"]),
    ('name = "\\q"', ["invalid escape \\q", "column 8"]),
])
def test_syntax_errors_give_the_column_and_what_was_expected(text: str, fragments: list[str]) -> None:
    with pytest.raises(ValidationError) as info:
        parse_filter(text)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(("text", "fragment"), [
    ("foo = 1", "unknown field 'foo'"),
    ("config = 1", "config needs a key"),
    ("state.x = 1", "state has no keys"),
    ("state = 1", 'quote the value: state = "1"'),
    ('created_at > "yesterday"', "ISO-8601"),
    ("created_at ~ \"1\"", "~ needs a text field"),
    ("config.lr ~ 1", "~ needs a text field and a string"),
    ("config.lr > null", "needs a number or string"),
    ("config.lr < true", "needs a number or string"),
    ('tags = "x"', "tags contains"),
    ('name contains "x"', "contains needs tags"),
    ("tags exists", "tags contains"),
    ("tags in [1]", "tags in [..] takes strings"),
    ('config.`say "hi"` = 1', "cannot be filtered on"),
    ("config.x = 1e999", "out of range"),
])
def test_semantic_errors_name_the_input_and_the_fix(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_filter(text)
    assert fragment in str(info.value)


def test_nodes_refuse_bad_values_when_built_directly() -> None:
    with pytest.raises(ValidationError):
        Compare(LR, "LIKE", "x")
    with pytest.raises(ValidationError):
        Compare(LR, "=", ["x"])  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Compare(LR, "=", "nul\x00")
    with pytest.raises(ValidationError):
        Field("config", ("",))


# --- caps (I13, I20) --------------------------------------------------------------------------

def test_text_longer_than_the_cap_is_refused() -> None:
    text = 'name = "' + "x" * MAX_FILTER_CHARS + '"'
    with pytest.raises(ValidationError, match=f"longer than {MAX_FILTER_CHARS}"):
        parse_filter(text)


def test_more_nodes_than_the_cap_are_refused() -> None:
    ok = " or ".join(f"config.x = {i}" for i in range(MAX_NODES - 1))
    assert len(parse_filter(ok).items) == MAX_NODES - 1  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match=f"more than {MAX_NODES} terms"):
        parse_filter(ok + " or config.x = -1 or config.x = -2")


def test_nesting_deeper_than_the_cap_is_refused() -> None:
    assert isinstance(parse_filter("not " * (MAX_DEPTH - 1) + "config.x = 1"), Not)
    with pytest.raises(ValidationError, match=f"deeper than {MAX_DEPTH}"):
        parse_filter("not " * MAX_DEPTH + "config.x = 1")


def test_thousands_of_parentheses_or_nots_are_handled_without_recursion_errors() -> None:
    # Redundant parentheses add no nodes, so they are harmless within the length cap.
    assert parse_filter("(" * 4000 + "config.x = 1" + ")" * 4000) == cmp(Field("config", ("x",)), "=", 1)
    with pytest.raises(ValidationError, match="deeper"):
        parse_filter("!" * 5000 + "config.x = 1")
    with pytest.raises(ValidationError, match="deeper"):
        parse_filter("config.a = 1 and (" * 40 + "config.x = 1" + ")" * 40)


def test_in_lists_over_the_cap_are_refused() -> None:
    values = ", ".join(["1"] * MAX_IN_VALUES)
    assert len(parse_filter(f"config.x in [{values}]").values) == MAX_IN_VALUES  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match=f"at most {MAX_IN_VALUES}"):
        parse_filter(f"config.x in [{values}, 1]")


# --- fuzz -------------------------------------------------------------------------------------

_TOKENS = ["config.lr", "summary.`a/b`", "tags", "state", "name", "id", "group", "created_at",
           "and", "OR", "not", "!", "&&", "||", "(", ")", "[", "]", ",", "=", "==", "!=", "<",
           ">=", "~", "in", "contains", "exists", "1", "-2.5e3", '"x"', "'y'", "true", "null",
           "`", '"', "'", "\\", ".", "1e999", '"\\u12"', "'; DROP TABLE runs; --", "\x00"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_random_text_raises_only_validation_error(text: str) -> None:
    try:
        parse_filter(text)
    except ValidationError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=14).map(" ".join))
def test_random_token_soup_raises_only_validation_error(text: str) -> None:
    try:
        node = parse_filter(text)
    except ValidationError:
        return
    assert isinstance(node, (And, Or, Not, Compare, In, Contains, Exists))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["$and", "$or", "$not", "$gt", "$in", "$regex", "$exists", "$nin",
                         "config.lr", "tags", "state", "name", "$bogus", "x"]), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(_JSON)
def test_random_mongo_documents_raise_only_validation_error(doc: Any) -> None:
    try:
        from_mongo(doc)
    except ValidationError:
        pass


# --- Mongo-style dicts --------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "expected"), [
    ({"config.lr": {"$gt": 0.01}}, cmp(LR, ">", 0.01)),
    ({"state": "finished"}, cmp(STATE, "=", "finished")),
    ({"display_name": "n"}, cmp(NAME, "=", "n")),
    ({"config.lr": None}, cmp(LR, "=", None)),
    ({"config.lr": {"$eq": 1, "$ne": 2}}, And((cmp(LR, "=", 1), cmp(LR, "!=", 2)))),
    ({"config.lr": {"$lt": 1, "$lte": 2, "$gte": 0}},
     And((cmp(LR, "<", 1), cmp(LR, "<=", 2), cmp(LR, ">=", 0)))),
    ({"config.lr": {"$in": [1, 2]}}, In(LR, (1, 2))),
    ({"config.lr": {"$nin": [1]}}, Not(In(LR, (1,)))),
    ({"config.lr": {"$exists": True}}, Exists(LR)),
    ({"config.lr": {"$exists": False}}, Not(Exists(LR))),
    ({"config.lr": {"$not": {"$gt": 1}}}, Not(cmp(LR, ">", 1))),
    ({"name": {"$regex": "sweep-1", "$options": "i"}}, cmp(NAME, "~", "sweep-1")),
    ({"tags": "best"}, Contains(TAGS, "best")),
    ({"tags": {"$in": ["a", "b"]}}, In(TAGS, ("a", "b"))),
    ({"tags": {"$nin": ["a"]}}, Not(In(TAGS, ("a",)))),
    ({"tags": {"$ne": "a"}}, Not(Contains(TAGS, "a"))),
    ({"tags": {"$all": ["a", "b"]}}, And((Contains(TAGS, "a"), Contains(TAGS, "b")))),
    ({"createdAt": {"$gt": "2024-01-01T00:00:00"}}, cmp(Field("created_at"), ">", 1704067200.0)),
    ({"created_at": {"$lt": 5}}, cmp(Field("created_at"), "<", 5)),
    ({"summary_metrics.loss": {"$lt": 1}}, cmp(Field("summary", ("loss",)), "<", 1)),
    ({"summary.`val/loss`": {"$lt": 1}}, cmp(Field("summary", ("val/loss",)), "<", 1)),
    ({"$and": [{"state": "a"}, {"config.lr": 1}]}, And((cmp(STATE, "=", "a"), cmp(LR, "=", 1)))),
    ({"$or": [{"state": "a"}, {"state": "b"}]}, Or((cmp(STATE, "=", "a"), cmp(STATE, "=", "b")))),
    ({"$nor": [{"state": "a"}]}, Not(Or((cmp(STATE, "=", "a"),)))),
    ({"$not": {"state": "a"}}, Not(cmp(STATE, "=", "a"))),
    ({"state": "a", "config.lr": 1}, And((cmp(STATE, "=", "a"), cmp(LR, "=", 1)))),
    ({}, And(())),
])
def test_mongo_translation(query: dict[str, Any], expected: Any) -> None:
    assert from_mongo(query) == expected


@pytest.mark.parametrize(("query", "fragment"), [
    ({"config.lr": {"$regex": "^a.*"}}, "plain substrings only"),
    ({"config.lr": {"$where": "1"}}, "unsupported operator '$where'"),
    ({"$where": "sleep(1)"}, "unknown operator '$where'"),
    ({"config.lr": {"nested": 1}}, "comparing with an object"),
    ({"config.lr": [1, 2]}, "use $in"),
    ({"config.lr": {"$in": 3}}, "needs a list"),
    ({"config.lr": {"$exists": "yes"}}, "true or false"),
    ({"$and": []}, "non-empty list"),
    ({"$or": "x"}, "non-empty list"),
    ({"name; DROP TABLE runs": 1}, "unknown field"),
    ({"tags": {"$gt": "a"}}, "tags cannot be compared"),
    ({"config.lr": {"$in": list(range(MAX_IN_VALUES + 1))}}, f"at most {MAX_IN_VALUES}"),
    ({"config.lr": {"$options": "i"}}, "$options"),
    ({"config.lr": object()}, "must be a number, string"),
])
def test_mongo_errors(query: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        from_mongo(query)
    assert fragment in str(info.value)


def test_mongo_caps_apply_too() -> None:
    deep: dict[str, Any] = {"state": "x"}
    for _ in range(MAX_DEPTH + 1):
        deep = {"$not": deep}
    with pytest.raises(ValidationError, match="deeper"):
        from_mongo(deep)
    very_deep: dict[str, Any] = {"state": "x"}
    for _ in range(5000):
        very_deep = {"$not": very_deep}
    with pytest.raises(ValidationError, match="deeper"):
        from_mongo(very_deep)
    wide = {"$or": [{"$or": [{"state": str(i)} for i in range(100)]} for _ in range(3)]}
    with pytest.raises(ValidationError, match="terms"):
        from_mongo(wide)


# --- sort specs -------------------------------------------------------------------------------

def test_parse_order() -> None:
    assert parse_order("-summary.loss,+created_at,name") == [
        (Field("summary", ("loss",)), True), (Field("created_at"), False), (NAME, False)]
    assert parse_order("+createdAt") == [(Field("created_at"), False)]
    assert parse_order(" - summary.`val/loss` , group") == [
        (Field("summary", ("val/loss",)), True), (Field("group"), False)]
    assert parse_order("") == []


@pytest.mark.parametrize(("text", "fragment"), [
    ("tags", "cannot be sorted"), ("-", "a field name"), ("name name", "column 6"),
    ("bogus", "unknown field"), (",".join(["name"] * 17), "at most 16"),
    ("name; DROP TABLE runs", "unexpected ';'"),
])
def test_parse_order_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_order(text)
    assert fragment in str(info.value)


def test_parse_field_renders_back() -> None:
    field = parse_field("summary.`val/loss`.x")
    assert field == Field("summary", ("val/loss", "x"))
    assert str(field) == "summary.val/loss.x"  # '/' needs no quotes
    assert parse_field(str(field)) == field


def test_metric_keys_with_slashes_need_no_quotes() -> None:
    node = parse_filter("summary.val/miou > 0.5 and summary.train/loss < 1")
    assert node == parse_filter("summary.`val/miou` > 0.5 and summary.`train/loss` < 1")
    assert parse_order("-summary.val/miou") == parse_order("-summary.`val/miou`")
