"""The depth check that stands before every JSON body is decoded."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.limits import MAX_JSON_DEPTH
from service.web.guards import json_nests_deeper_than


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


def test_one_hundred_thousand_levels_are_too_deep() -> None:
    assert json_nests_deeper_than(nested(100_000), MAX_JSON_DEPTH)
    assert json_nests_deeper_than(b"[" * 100_000, MAX_JSON_DEPTH)  # unbalanced: not JSON either


def test_the_limit_itself_is_accepted() -> None:
    assert not json_nests_deeper_than(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)
    assert json_nests_deeper_than(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',  # brackets inside a string
        '{"a": "\\\\", "b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',  # an escaped backslash
        '{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\""}',  # escaped quotes
    ],
)
def test_brackets_inside_strings_do_not_count(text: str) -> None:
    assert depth_of(json.loads(text)) == 1
    assert not json_nests_deeper_than(text.encode(), 2)


json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), children, max_size=3)
    ),
    max_leaves=40,
)


@given(document=json_documents, limit=st.integers(min_value=0, max_value=8))
def test_the_check_agrees_with_the_real_depth(document: object, limit: int) -> None:
    text = json.dumps(document).encode()
    assert json_nests_deeper_than(text, limit) == (depth_of(document) > limit)
