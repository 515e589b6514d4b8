"""The names of administrative divisions (GB/T 2260), for people who read a region code.

The names come from python-stdnum's table (the same one ``codes`` validates address
codes against) plus the codes created since (``ADDRESS_CODES_SINCE_STDNUM``), so a
code that validates has a name. Each code is named as a reader expects it: a county
with its city (杭州市上城区), a city alone (杭州市), a province alone (浙江省). Where the
city level is only a placeholder (北京市's 市辖区, a province's 省直辖县级行政区划), the
province stands in for it (北京市东城区). A code that changed its name over the years
is named by the latest name it carried.

The table holds Chinese names only; pages in other languages show the Chinese name
with the code beside it.
"""

from __future__ import annotations

import re
from functools import cache

from stdnum import numdb

from service.identity.codes import ADDRESS_CODES_SINCE_STDNUM

# "[1983-2021]下城区" or "[-1991]东郊区,[1992-]东丽区": names with the years they were used.
_DATED_NAME = re.compile(r"^(?:\[[0-9-]*\])?(.+)$")
# City-level entries that are no city: a municipality's districts and counties, and the
# county-level cities a province administers directly.
_PLACEHOLDERS = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "市区")


def _latest_name(names: str) -> str:
    latest = names.split(",")[-1]
    match = _DATED_NAME.match(latest.strip())
    return match.group(1) if match else latest


@cache
def _names() -> dict[str, str]:
    """Each 6-digit code's own latest name (县, 市 or 省 alone)."""
    names: dict[str, str] = {}
    for _length, province, _high, props, children in numdb.get("cn/loc").prefixes:
        if "province" in props:
            names[province + "0000"] = _latest_name(props["province"])
        for _l, suffix, _h, child_props, _c in children:
            if "county" in child_props:
                names[province + suffix] = _latest_name(child_props["county"])
    for code, name in ADDRESS_CODES_SINCE_STDNUM.items():
        names.setdefault(code, name)
    return names


def _city(code: str) -> str | None:
    """The name a county is qualified by: its city, or its province where there is no city."""
    names = _names()
    city = names.get(code[:4] + "00")
    if city and city not in _PLACEHOLDERS and "直辖" not in city:
        return city
    return names.get(code[:2] + "0000")


@cache
def region_name(code: str) -> str | None:
    """The place a 2-, 4- or 6-digit region code names, or None if the table lacks it."""
    if not code.isdigit() or len(code) not in (2, 4, 6):
        return None
    full = code.ljust(6, "0")
    names = _names()
    own = names.get(full)
    if full.endswith("0000"):
        return own
    if full.endswith("00"):
        return own if own not in (None, *_PLACEHOLDERS) else names.get(full[:2] + "0000")
    if own is None:
        return None
    city = _city(full)
    if city is None or own == city or own.startswith(city):
        return own
    return city + own


def civil_affairs_department(code: str) -> str | None:
    """The civil-affairs department of a region, as its documents are signed: a county's
    by its own name (长兴县民政局), a municipality's district with the city (北京市东城区民政局),
    a city's (湖州市民政局), a province's 民政厅 but a municipality's 民政局 (北京市民政局)."""
    full = code.ljust(6, "0") if code.isdigit() and len(code) in (2, 4, 6) else ""
    own = _names().get(full)
    if own is None:
        return None
    if full.endswith("0000"):
        return own + ("民政局" if own.endswith("市") else "民政厅")
    if full.endswith("00"):
        return (region_name(full) or own) + "民政局"
    city = _names().get(full[:4] + "00")
    # A municipality's districts sign with the city; a province's own county-level cities
    # (省直辖) and every other county by their own name.
    in_municipality = city is None or (city in _PLACEHOLDERS and "直辖" not in city)
    return ((region_name(full) or own) if in_municipality else own) + "民政局"
