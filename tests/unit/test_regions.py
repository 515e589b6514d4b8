"""Region codes are shown with the place they name (GB/T 2260, python-stdnum's table and
the codes created since), and a page keeps the code beside the name."""

from __future__ import annotations

import pytest

from service.identity.codes import ADDRESS_CODES_SINCE_STDNUM
from service.identity.regions import civil_affairs_department, region_name
from service.public.display import region


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("330102", "杭州市上城区"),  # a county with its city
        ("331022", "台州市三门县"),
        ("330103", "杭州市下城区"),  # gone in 2021, named by the name it last carried
        ("330113", "杭州市临平区"),  # created after stdnum's table: ours, with stdnum's city
        ("330114", "杭州市钱塘区"),
        ("110101", "北京市东城区"),  # a municipality: no 市辖区 in the name
        ("120110", "天津市东丽区"),  # renamed in 1992 (东郊区): the latest name
        ("429004", "湖北省仙桃市"),  # a county-level city the province administers
        ("330100", "杭州市"),
        ("3301", "杭州市"),
        ("330000", "浙江省"),
        ("33", "浙江省"),
        ("441900", "东莞市"),
    ],
)
def test_a_code_is_named_as_a_reader_expects(code: str, name: str) -> None:
    assert region_name(code) == name


@pytest.mark.parametrize("code", ["999999", "339999", "12345", "", "abcdef"])
def test_an_unknown_code_has_no_name(code: str) -> None:
    assert region_name(code) is None


def test_every_code_created_since_stdnum_has_a_name() -> None:
    for code in ADDRESS_CODES_SINCE_STDNUM:
        assert region_name(code)


def test_pages_show_the_name_with_the_code_beside_it() -> None:
    assert region("330102", "zh") == '杭州市上城区<span class="code">（330102）</span>'
    assert region("330102", "en") == (
        '<span lang="zh-CN">杭州市上城区</span> <span class="code">(330102)</span>'
    )
    assert region("999999", "zh") == '<span class="code">999999</span>'


@pytest.mark.parametrize(
    ("code", "department"),
    [
        ("330522", "长兴县民政局"),  # a county signs with its own name
        ("330113", "临平区民政局"),  # created after stdnum's table
        ("110101", "北京市东城区民政局"),  # a municipality's district, with the city
        ("429004", "仙桃市民政局"),  # a county-level city the province administers
        ("330500", "湖州市民政局"),
        ("330000", "浙江省民政厅"),
        ("110000", "北京市民政局"),  # a municipality's own is a 局, not a 厅
        ("999999", None),
    ],
)
def test_a_region_signs_as_its_civil_affairs_department(code: str, department: str | None) -> None:
    assert civil_affairs_department(code) == department
