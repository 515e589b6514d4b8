"""The distinctive part of a searched name: what tells one institution from another."""

from __future__ import annotations

import pytest

from service.db.like import distinctive_part


@pytest.mark.parametrize(
    ("term", "part"),
    [
        ("卧龙区前进居家养老服务照料中心", "卧龙区前进"),
        ("北屯市颐乐护理院有限公司", "北屯市颐乐"),  # the lone 院 left between two words
        ("长兴县夕阳红颐养院", "长兴县夕阳红"),
        ("日间照料中心", "日间照料中心"),  # nothing but generic words: the term itself
        ("夕阳红", "夕阳红"),
    ],
)
def test_the_distinctive_part_leaves_out_the_generic_words(term: str, part: str) -> None:
    assert distinctive_part(term) == part
