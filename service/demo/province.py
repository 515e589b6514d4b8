"""Synthetic province of elderly-care institutions and care workers, for demos and load tests.

``generate_demo_province`` is pure: everything comes from one ``random.Random(seed)``, with no
database, I/O or clock, so the same arguments always give an equal province. Region codes and
county names come from python-stdnum's copy of the administrative division codes, and every
USCC and resident ID number passes the validators in ``service.registry.identifiers``.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from stdnum import numdb

from service.identity.codes import (
    USCC_ALPHABET,
    id_number_with_check_digit,
    uscc_with_check_character,
)
from service.registry.models import EmploymentRole, InstitutionKind, SkillLevel

# A fixed "today" instead of the clock keeps the output reproducible.
REFERENCE_DATE = date(2026, 6, 30)
_REFERENCE_YEAR = REFERENCE_DATE.year
_EARLIEST_START = date(2010, 1, 1)
# Numbers were first issued in 1984, to people of 16 and over; a number keeps the code of
# the county where its holder was registered then, whatever the county is called now.
_FIRST_ID_CARDS, _ID_CARD_AGE = 1984, 16

# The registry's enums are the one list of kinds, levels and roles.
KINDS = tuple(kind.value for kind in InstitutionKind)
SKILL_LEVELS = tuple(level.value for level in SkillLevel)
ROLES = tuple(role.value for role in EmploymentRole)


@dataclass(frozen=True, slots=True)
class DemoInstitution:
    """Exactly columns of ``institutions``: the loader passes every field on as one."""

    name: str
    uscc: str
    region_code: str
    kind: str
    beds: int
    address: str
    status: str


@dataclass(frozen=True, slots=True)
class DemoPractitioner:
    name: str
    id_number: str
    region_code: str
    certificate_no: str | None
    skill_level: str | None


@dataclass(frozen=True, slots=True)
class DemoEmployment:
    institution_index: int
    practitioner_index: int
    role: str
    start_date: date
    end_date: date | None


@dataclass(frozen=True, slots=True)
class DemoProvince:
    province_code: str
    institutions: list[DemoInstitution]
    practitioners: list[DemoPractitioner]
    employments: list[DemoEmployment]


# --- Region data -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Period:
    """One name a 6-digit code carried, and the years (inclusive) it carried it."""

    code: str
    name: str
    start: int | None
    end: int | None

    def covers(self, year: int) -> bool:
        return (self.start is None or self.start <= year) and (self.end is None or year <= self.end)


@dataclass(frozen=True, slots=True)
class _County:
    code: str
    name: str
    city: str  # "" where the prefecture level has no name of its own (municipalities)
    start_year: int  # first year the current name is valid; 0 when always


@dataclass(frozen=True, slots=True)
class _Regions:
    province: str
    counties: tuple[_County, ...]
    # Every county-level name any code ever had: an ID number carries the code its county had
    # when the number was issued, which for older people is often one that no longer exists.
    periods: tuple[_Period, ...]


# Prefecture-level entries that group counties rather than name a place.
_UMBRELLA_NAMES = frozenset({"市辖区", "县", "林区"})


def _parse_periods(code: str, value: str) -> list[_Period]:
    # stdnum's format: 'name' or '[start-end]name,[start-end]name', either year may be empty.
    periods = []
    for part in value.split(","):
        if part.startswith("["):
            span, name = part[1:].split("]", 1)
            start, end = span.split("-")
            periods.append(
                _Period(code, name, int(start) if start else None, int(end) if end else None)
            )
        else:
            periods.append(_Period(code, part, None, None))
    return periods


def _current(periods: list[_Period]) -> _Period | None:
    for period in reversed(periods):
        if period.end is None and (period.start is None or period.start <= _REFERENCE_YEAR):
            return period
    return None


@cache
def _all_regions() -> dict[str, _Regions]:
    regions: dict[str, _Regions] = {}
    for _length, province_code, _high, props, children in numdb.get("cn/loc").prefixes:
        city_names: dict[str, str] = {}
        counties: list[_County] = []
        periods: list[_Period] = []
        for _length2, suffix, _high2, child_props, _grandchildren in children:
            code = province_code + suffix
            code_periods = _parse_periods(code, child_props["county"])
            current = _current(code_periods)
            if suffix.endswith("00"):
                # The "county" of a xxxx00 code is the prefecture (city) itself.
                if current is not None and current.name not in _UMBRELLA_NAMES:
                    city_names[suffix[:2]] = "" if "直辖" in current.name else current.name
                continue
            # 市辖区 ("districts under the city") is a grouping code, not a place.
            periods.extend(p for p in code_periods if p.name != "市辖区")
            if current is not None and current.name != "市辖区":
                city = city_names.get(suffix[:2], "")
                counties.append(_County(code, current.name, city, current.start or 0))
        if counties:
            regions[province_code] = _Regions(props["province"], tuple(counties), tuple(periods))
    return regions


def _regions(province_code: str) -> _Regions:
    regions = _all_regions().get(province_code)
    if regions is None:
        raise ValueError("province_code must be a 2-digit province with county-level divisions")
    return regions


def _stem(name: str) -> str:
    for suffix in ("自治县", "新区", "县", "市", "区"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


# --- Word lists --------------------------------------------------------------------------------

# Approximate shares (per mille) of the population; the long tail is cut off.
_SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 71), ("李", 70), ("张", 68), ("刘", 54), ("陈", 46), ("杨", 31), ("黄", 25),
    ("赵", 23), ("吴", 20), ("周", 19), ("徐", 15), ("孙", 15), ("马", 14), ("朱", 13),
    ("胡", 13), ("郭", 12), ("何", 12), ("林", 11), ("高", 11), ("罗", 9), ("郑", 9),
    ("梁", 8), ("谢", 7), ("宋", 6), ("唐", 6), ("许", 6), ("韩", 6), ("冯", 5), ("邓", 5),
    ("曹", 5), ("彭", 5), ("曾", 5), ("肖", 5), ("田", 4), ("董", 4), ("潘", 4), ("袁", 4),
    ("蔡", 4), ("蒋", 4), ("余", 4), ("于", 4), ("杜", 4), ("叶", 4), ("程", 3), ("魏", 3),
    ("苏", 3), ("吕", 3), ("丁", 3), ("任", 3), ("卢", 3), ("姚", 3), ("沈", 3), ("钟", 3),
    ("姜", 3), ("崔", 3), ("谭", 3), ("陆", 3), ("范", 2), ("汪", 2), ("廖", 2), ("石", 2),
    ("金", 2), ("韦", 2), ("贾", 2), ("夏", 2), ("付", 2), ("方", 2), ("邹", 2), ("熊", 2),
    ("白", 2), ("孟", 2), ("秦", 2), ("邱", 2), ("侯", 2), ("江", 2), ("尹", 2), ("薛", 2),
    ("段", 2), ("雷", 2), ("龙", 2), ("黎", 1), ("史", 1), ("陶", 1), ("贺", 1), ("毛", 1),
    ("郝", 1), ("顾", 1), ("龚", 1), ("邵", 1), ("钱", 1), ("戴", 1), ("严", 1), ("孔", 1),
    ("楼", 1), ("应", 1), ("俞", 1), ("章", 1), ("童", 1), ("屠", 1),
    # Two-character surnames are rare in reality; slightly over-weighted so demos show some.
    ("欧阳", 1.5), ("司马", 0.5), ("上官", 0.5), ("诸葛", 0.5), ("司徒", 0.5), ("皇甫", 0.3),
)  # fmt: skip
_SURNAME_CHOICES = tuple(name for name, _ in _SURNAMES)
_SURNAME_CUM_WEIGHTS = tuple(itertools.accumulate(weight for _, weight in _SURNAMES))

# Given names: a first character from one pool and a last from the other reads far more
# naturally than two arbitrary characters; one-character names use the last pool.
_GIVEN_FIRST = {
    False: "秀丽桂美玉金晓春雪海红彩素月亚小佳雅梦思欣雨静慧淑凤爱丹建文",
    True: "建国志海永明文晓伟俊家德宏金云子立振浩天明新春长世光正学",
}
_GIVEN_LAST = {
    False: "英芳兰珍梅华萍霞燕琴娟红玲凤芬琼丽娜婷敏洁慧琳颖莉平云香菊娣",
    True: "华平军强明伟林峰勇杰斌东刚辉波龙成良忠祥生宇涛鹏磊飞军荣庆福",
}

_BRANDS = (
    "颐康", "福寿", "康乐", "安馨", "乐龄", "椿萱", "松鹤", "夕阳红", "颐和", "康宁", "瑞康",
    "福康", "仁爱", "慈恩", "孝德", "寿康", "和美", "怡园", "馨园", "悦华", "嘉和", "永安",
    "长青", "长乐", "百岁", "祥和", "欣和", "天伦", "温馨", "颐年", "颐乐", "同福", "善德",
    "德康", "金色年华", "绿康", "万福", "泰和", "福临", "安康", "惠民", "家和", "九如", "常青",
    "春晖", "晚霞", "暖阳", "如意", "吉祥", "乐寿", "孝亲", "慈航", "益寿", "福星", "康馨",
    "颐寿", "爱晚", "桑榆", "福乐", "安泰",
)  # fmt: skip
_PLACES = (
    "东湖", "南苑", "北苑", "梅园", "桃源", "柳湾", "竹林", "新城", "滨江", "江南", "城东",
    "城西", "城南", "城北", "前进", "红旗", "幸福", "金星", "白云", "青山", "清河", "丹桂",
    "凤凰", "龙山", "莲花", "石桥", "新塘", "花园", "锦绣", "翠苑", "文苑", "朝晖", "望湖",
    "湖畔", "晨光", "东升", "新华", "双桥", "古城", "五里", "长岭", "西园", "南门", "北门",
)  # fmt: skip
_ROADS = (
    "人民", "解放", "中山", "建设", "文化", "新华", "江滨", "环城东", "环城西", "环城南",
    "环城北", "府前", "学院", "朝阳", "和平", "光明", "青年", "胜利", "健康", "长寿", "幸福",
    "振兴", "兴业", "迎宾", "东风", "公园", "育才", "湖滨", "望江", "金桥", "银杏", "桂花",
    "滨河", "花园", "城北", "城南", "工业", "站前", "永安", "平安",
)  # fmt: skip

# Institution name suffixes by kind and by the kind of legal entity (USCC prefix).
_RESIDENTIAL_SUFFIXES = ("养老院", "颐养院", "护理院", "老年公寓", "颐养中心", "康养中心")
_PUBLIC_RESIDENTIAL_SUFFIXES = ("敬老院", "社会福利院", "福利中心", "颐养院")
_COMPANY_RESIDENTIAL_SUFFIXES = ("养老服务有限公司", "护理院有限公司", "康养有限公司")
_COMMUNITY_SUFFIXES = (
    "社区居家养老服务中心",
    "日间照料中心",
    "居家养老服务照料中心",
    "老年人日间照料中心",
)
_COMPANY_HOME_CARE_SUFFIXES = ("居家养老服务有限公司", "养老服务有限公司")
_HOME_CARE_SUFFIXES = ("居家养老服务站", "居家养老服务中心")

# Organisation code prefixes given to units registered after the 2015 USCC reform.
_NEW_ORG_CODE_PREFIX = {"52": "MJ", "12": "MB", "91": "MA", "Y1": "MA"}
# GB 11714 organisation code weights; the check character is part of USCC chars 9-17.
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_VALUES = {c: int(c, 36) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_LEVEL_DIGIT = {  # the national skill grades: 五级 (junior) ... 一级 (senior technician)
    "junior": "5",
    "intermediate": "4",
    "senior": "3",
    "technician": "2",
    "senior_technician": "1",
}
_LEVEL_CHOICES: tuple[str | None, ...] = (*SKILL_LEVELS, None)
# Weights for junior, intermediate, senior, technician, senior_technician, None.
_LEVEL_WEIGHTS = {
    "caregiver": (34, 26, 12, 3, 1, 24),
    "nurse": (8, 6, 3, 1, 0, 82),
    "manager": (15, 20, 15, 8, 2, 40),
    "responsible_person": (15, 20, 15, 8, 2, 40),
    "legal_representative": (5, 5, 5, 2, 1, 82),
    "other": (20, 10, 3, 0, 0, 67),
}
# Weights for caregiver, nurse, other among ordinary staff.
_STAFF_ROLES = ("caregiver", "nurse", "other")
_STAFF_ROLE_WEIGHTS = {
    "residential": (74, 14, 12),
    "community": (60, 6, 34),
    "home_care": (85, 5, 10),
}
_ENTITY_TYPES = ("52", "12", "91")
_ENTITY_WEIGHTS = {
    "residential": (70, 15, 15),
    "community": (80, 12, 8),
    "home_care": (40, 0, 60),
}


# --- Generator ---------------------------------------------------------------------------------


def generate_demo_province(
    seed: int = 1,
    *,
    province_code: str = "33",
    institutions: int = 300,
    practitioners: int = 3000,
) -> DemoProvince:
    """Generate a province of institutions, care workers and their employments.

    Needs at least two practitioners per institution: every institution's legal
    representative and manager are distinct people, and nobody holds two current jobs.
    """
    if institutions < 0 or practitioners < 0:
        raise ValueError("counts must not be negative")
    if practitioners < 2 * institutions:
        raise ValueError("need at least two practitioners per institution")
    return _Generator(random.Random(seed), province_code).province(institutions, practitioners)


def generate_demo_institutions(
    seed: int = 1, *, province_code: str = "33", institutions: int = 300
) -> list[DemoInstitution]:
    """Only the institutions of a demo province (names, codes, regions), for load tests."""
    generator = _Generator(random.Random(seed), province_code)
    return [generator._institution(False) for _ in range(institutions)]


def demo_province_codes() -> list[str]:
    """Every province the demo can generate (those with county-level divisions)."""
    return sorted(_all_regions())


def _org_code(body: str) -> str:
    """Append the GB 11714 check character to an 8-character organisation code body."""
    check = 11 - sum(_ORG_CODE_VALUES[c] * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True))
    check %= 11
    return body + ("X" if check == 10 else str(check))


def county_name(region_code: str) -> str:
    """The current name of a county-level code (莲都区), for demo documents."""
    county = next((c for c in _regions(region_code[:2]).counties if c.code == region_code), None)
    if county is None:
        raise ValueError(f"{region_code} is not a current county-level code")
    return county.name


def civil_affairs_bureau(region_code: str) -> tuple[str, str]:
    """A county's civil-affairs bureau, as demo records cite it: its name and a valid USCC."""
    body = "0026" + region_code[2:]  # a stable, made-up organisation code body per county
    return f"{county_name(region_code)}民政局", uscc_with_check_character(
        "11" + region_code + _org_code(body)
    )


@cache
def _periods_by_stem() -> dict[str, tuple[_Period, ...]]:
    """Names over the whole country by stem, to find the code a renamed county had before."""
    by_stem: dict[str, list[_Period]] = {}
    for regions in _all_regions().values():
        for period in regions.periods:
            by_stem.setdefault(_stem(period.name), []).append(period)
    return {stem: tuple(periods) for stem, periods in by_stem.items()}


@cache
def _periods_in_year(province_code: str, year: int, city: str = "") -> tuple[_Period, ...]:
    """Codes valid in ``year`` within a province (and city); all provinces for ``""``."""
    if province_code:
        periods = _regions(province_code).periods
    else:
        periods = tuple(p for regions in _all_regions().values() for p in regions.periods)
    return tuple(p for p in periods if p.covers(year) and p.code.startswith(city))


class _Generator:
    def __init__(self, rng: random.Random, province_code: str) -> None:
        self.rng = rng
        self.province_code = province_code
        self.regions = _regions(province_code)
        self.counties = self.regions.counties
        self.county_by_code = {county.code: county for county in self.counties}
        # Counties differ a lot in size: one lognormal weight per county, drawn once.
        weights = [rng.lognormvariate(0, 0.7) for _ in self.counties]
        self.county_cum_weights = list(itertools.accumulate(weights))
        self.counties_by_city: dict[str, list[_County]] = {}
        for county in self.counties:
            self.counties_by_city.setdefault(county.code[:4], []).append(county)
        self.other_provinces = sorted(set(_all_regions()) - {province_code})
        self.usccs: set[str] = set()
        self.id_numbers: set[str] = set()
        self.names: set[str] = set()
        self.serials: list[int] = []
        self.serial_width = 0
        self.institutions: list[DemoInstitution] = []
        self.institutions_by_city: dict[str, list[int]] = {}

    # -- Province --------------------------------------------------------------------------

    def province(self, n_institutions: int, n_practitioners: int) -> DemoProvince:
        letter_index = self.rng.randrange(n_institutions) if n_institutions else -1
        institutions = [self._institution(i == letter_index) for i in range(n_institutions)]
        self.institutions = institutions
        for index, institution in enumerate(institutions):
            self.institutions_by_city.setdefault(institution.region_code[:4], []).append(index)
        slots = self._slots(institutions, n_practitioners)
        # Slots go to a random subset of practitioners; the rest have no current job.
        order = list(range(n_practitioners))
        self.rng.shuffle(order)
        slot_of = dict(zip(order, slots, strict=False))
        serial_space = max(1_000_000, 10 * n_practitioners)
        self.serials = self.rng.sample(range(serial_space), k=n_practitioners)
        self.serial_width = len(str(serial_space - 1))

        practitioners: list[DemoPractitioner] = []
        employments: list[DemoEmployment] = []
        for index in range(n_practitioners):
            slot = slot_of.get(index)
            if slot is None:
                home = self._weighted_county()
                role = "other"
            else:
                home = self._home_county(institutions[slot[0]].region_code)
                role = slot[1]
            birth, male = self._birth_and_sex(role)
            practitioners.append(self._practitioner(index, home, birth, male, role))
            employments.extend(self._employments(index, slot, birth, home.code))
        return DemoProvince(self.province_code, institutions, practitioners, employments)

    # -- Institutions ----------------------------------------------------------------------

    def _institution(self, force_letter: bool) -> DemoInstitution:
        rng = self.rng
        kind = rng.choices(KINDS, (50, 35, 15))[0]
        county = self._weighted_county()
        # About 2% come from an authority whose code is a letter; one is forced so that even
        # a small province shows that such codes are valid.
        if force_letter or rng.random() < 0.02:
            entity = "Y1"
        else:
            entity = rng.choices(_ENTITY_TYPES, _ENTITY_WEIGHTS[kind])[0]
        return DemoInstitution(
            name=self._institution_name(county, kind, entity),
            uscc=self._uscc(entity, county.code),
            region_code=county.code,
            kind=kind,
            beds=self._beds(kind, entity),
            address=self._address(county),
            status=rng.choices(("operating", "suspended", "closed"), (94, 3, 3))[0],
        )

    def _beds(self, kind: str, entity: str) -> int:
        if kind == "residential":
            # Lognormal around 80 (50 for small public homes): most 30-150, a few very large.
            median = 50 if entity == "12" else 80
            return min(600, max(10, round(math.exp(self.rng.gauss(math.log(median), 0.65)))))
        if kind == "community":
            return 0 if self.rng.random() < 0.35 else self.rng.randint(4, 30)
        return 0

    def _institution_name(self, county: _County, kind: str, entity: str) -> str:
        rng = self.rng
        suffixes: tuple[str, ...]
        if kind == "residential":
            if entity == "12":
                suffixes = _PUBLIC_RESIDENTIAL_SUFFIXES
            elif entity == "91":
                suffixes = _COMPANY_RESIDENTIAL_SUFFIXES
            else:
                suffixes = _RESIDENTIAL_SUFFIXES
        elif kind == "community":
            suffixes = _COMMUNITY_SUFFIXES
        else:
            suffixes = _COMPANY_HOME_CARE_SUFFIXES if entity == "91" else _HOME_CARE_SUFFIXES
        # Community centres and public homes are usually named after their neighbourhood.
        place_named = kind == "community" or entity == "12"
        for attempt in range(40):
            word = (
                rng.choice(_PLACES) if place_named and rng.random() < 0.7 else rng.choice(_BRANDS)
            )
            if attempt >= 10:  # a crowded county: widen the name space
                word = rng.choice(_PLACES) + rng.choice(_BRANDS)
            name = county.name + word + rng.choice(suffixes)
            if name not in self.names:
                self.names.add(name)
                return name
        number = 2
        while (name := f"{county.name}{rng.choice(_BRANDS)}第{number}{suffixes[0]}") in self.names:
            number += 1
        self.names.add(name)
        return name

    def _uscc(self, entity: str, region_code: str) -> str:
        rng = self.rng
        while True:
            if rng.random() < 0.55:
                # Registered after the 2015 reform: a new-style organisation code.
                body = _NEW_ORG_CODE_PREFIX[entity] + "".join(rng.choices(USCC_ALPHABET, k=6))
            else:
                body = "".join(rng.choices("0123456789", k=8))
            code = uscc_with_check_character(entity + region_code + _org_code(body))
            if code not in self.usccs:
                self.usccs.add(code)
                return code

    def _address(self, county: _County) -> str:
        rng = self.rng
        road = rng.choice(_ROADS) + rng.choices(("路", "街", "大道"), (70, 20, 10))[0]
        number = min(999, 1 + int(rng.expovariate(1 / 120)))
        form = rng.random()
        if county.name.endswith("县") and form < 0.25:
            street = f"{rng.choice(_PLACES)}村{number}号"
        elif form < 0.85:
            street = f"{road}{number}号"
        else:
            street = f"{road}{number}号{rng.randint(1, 12)}幢"
        return self.regions.province + county.city + county.name + street

    # -- Who works where ---------------------------------------------------------------------

    def _slots(
        self, institutions: list[DemoInstitution], n_practitioners: int
    ) -> list[tuple[int, str]]:
        """(institution index, role) for every current job, leaders first."""
        rng = self.rng
        if not institutions:
            return []
        unemployed = min(round(n_practitioners * 0.05), n_practitioners - 2 * len(institutions))
        budget = n_practitioners - unemployed
        slots: list[tuple[int, str]] = []
        for index in range(len(institutions)):
            slots += [(index, "legal_representative"), (index, "manager")]
        for index, institution in enumerate(institutions):
            if institution.kind == "residential" and rng.random() < 0.3:
                slots.append((index, "responsible_person"))
            if institution.beds >= 200:
                slots.append((index, "manager"))
        slots = slots[:budget]  # leaders beyond the budget are optional extras
        weights = [self._staff_weight(institution) for institution in institutions]
        if not any(weights):
            weights = [1.0] * len(institutions)
        for index in rng.choices(range(len(institutions)), weights, k=budget - len(slots)):
            kind = institutions[index].kind
            slots.append((index, rng.choices(_STAFF_ROLES, _STAFF_ROLE_WEIGHTS[kind])[0]))
        return slots

    @staticmethod
    def _staff_weight(institution: DemoInstitution) -> float:
        if institution.status == "closed":
            return 0.0
        if institution.kind == "residential":
            weight = 2 + institution.beds * 0.35
        elif institution.kind == "community":
            weight = 2 + institution.beds * 0.1
        else:
            weight = 6.0
        return weight * (0.3 if institution.status == "suspended" else 1.0)

    def _weighted_county(self) -> _County:
        return self.rng.choices(self.counties, cum_weights=self.county_cum_weights)[0]

    def _home_county(self, workplace: str) -> _County:
        """Where someone working in ``workplace`` is registered: mostly the same county."""
        draw = self.rng.random()
        if draw < 0.85:
            return self.county_by_code[workplace]
        if draw < 0.95:
            return self.rng.choice(self.counties_by_city[workplace[:4]])
        return self._weighted_county()

    def _employments(
        self,
        index: int,
        slot: tuple[int, str] | None,
        birth: date,
        home_code: str,
    ) -> list[DemoEmployment]:
        rng = self.rng
        earliest = max(_EARLIEST_START, date(birth.year + 19, 1, 1))
        result: list[DemoEmployment] = []
        floor = earliest
        # About 15% changed jobs; people without a current job have mostly left one.
        if len(self.institutions) > 1 and rng.random() < (0.15 if slot else 0.5):
            current = slot[0] if slot else None
            city = home_code if current is None else self.institutions[current].region_code
            past = self._other_institution(current, city[:4])
            start = self._date_between(earliest, REFERENCE_DATE - timedelta(days=90))
            end = self._date_between(
                start + timedelta(days=30), REFERENCE_DATE - timedelta(days=31)
            )
            result.append(DemoEmployment(past, index, self._past_role(slot), start, end))
            floor = end + timedelta(days=1)
        if slot is not None:
            # Care work has high turnover: current jobs skew towards recent start dates.
            span = (REFERENCE_DATE - floor).days
            start = floor + timedelta(days=round(rng.triangular(0, span, span)))
            result.append(DemoEmployment(slot[0], index, slot[1], start, None))
        return result

    def _other_institution(self, exclude: int | None, city: str) -> int:
        """An earlier employer: mostly in the same city, never the current one."""
        n_institutions = len(self.institutions)
        nearby = [i for i in self.institutions_by_city.get(city, []) if i != exclude]
        if nearby and self.rng.random() < 0.8:
            return self.rng.choice(nearby)
        if exclude is None:
            return self.rng.randrange(n_institutions)
        other = self.rng.randrange(n_institutions - 1)
        return other + 1 if other >= exclude else other

    def _past_role(self, slot: tuple[int, str] | None) -> str:
        role = slot[1] if slot else "caregiver"
        if role in _STAFF_ROLES and self.rng.random() < 0.8:
            return role
        return self.rng.choices(("caregiver", "nurse", "manager", "other"), (60, 10, 15, 15))[0]

    def _date_between(self, low: date, high: date) -> date:
        return low + timedelta(days=self.rng.randint(0, (high - low).days))

    # -- People --------------------------------------------------------------------------------

    def _birth_and_sex(self, role: str) -> tuple[date, bool]:
        """A birth date giving an age (at REFERENCE_DATE) typical of the role, and the sex.

        Care work is done mostly by women of 40 to 60; owners and managers are of the same
        generation; nurses are younger. Nobody is past 62 or younger than 26.
        """
        rng = self.rng
        if role == "legal_representative":
            male, age = rng.random() < 0.55, rng.randint(40, 62)
        elif role in ("manager", "responsible_person"):
            male, age = rng.random() < 0.35, rng.randint(35, 60)
        elif role == "nurse":
            male, age = rng.random() < 0.05, rng.randint(26, 55)
        elif role == "caregiver":
            # Most around 50; a few young graduates of care courses.
            male = rng.random() < 0.1
            young = rng.random() < 0.05
            age = rng.randint(26, 34) if young else round(rng.triangular(35, 62, 52))
        else:
            male, age = rng.random() < 0.3, rng.randint(30, 62)
        # Born in the year up to REFERENCE_DATE (30 June, so never a 29 February) that
        # makes them ``age`` on it.
        latest = REFERENCE_DATE.replace(year=_REFERENCE_YEAR - age)
        earliest = REFERENCE_DATE.replace(year=_REFERENCE_YEAR - age - 1) + timedelta(days=1)
        return self._date_between(earliest, latest), male

    def _practitioner(
        self, index: int, home: _County, birth: date, male: bool, role: str
    ) -> DemoPractitioner:
        rng = self.rng
        surname = rng.choices(_SURNAME_CHOICES, cum_weights=_SURNAME_CUM_WEIGHTS)[0]
        given = rng.choice(_GIVEN_LAST[male])
        if rng.random() < 0.7:
            given = rng.choice(_GIVEN_FIRST[male]) + given
        level = rng.choices(_LEVEL_CHOICES, _LEVEL_WEIGHTS[role])[0]
        certificate = None
        if level is not None:
            issued = rng.randint(max(2008, birth.year + 20), _REFERENCE_YEAR)
            serial = str(self.serials[index]).zfill(self.serial_width)
            evaluator = "S" if rng.random() < 0.7 else "Y"  # training body or employer
            certificate = f"{evaluator}{home.code}{issued}{_LEVEL_DIGIT[level]}{serial}"
        return DemoPractitioner(
            name=surname + given,
            id_number=self._id_number(home, birth, male),
            region_code=home.code,
            certificate_no=certificate,
            skill_level=level,
        )

    def _id_number(self, home: _County, birth: date, male: bool) -> str:
        place = self._address_code(home, max(_FIRST_ID_CARDS, birth.year + _ID_CARD_AGE))
        while True:
            # The 3-digit sequence number is odd for men and even for women.
            sequence = 2 * self.rng.randrange(500) + (1 if male else 0)
            number = id_number_with_check_digit(f"{place}{birth:%Y%m%d}{sequence:03d}")
            if number not in self.id_numbers:
                self.id_numbers.add(number)
                return number

    def _address_code(self, home: _County, year: int) -> str:
        """The county code of where the person was registered when the number was issued."""
        rng = self.rng
        draw = rng.random()
        if draw < 0.1:
            # Migrant workers, registered here now but first registered elsewhere.
            periods = _periods_in_year(rng.choice(self.other_provinces), year)
            if periods:
                return rng.choice(periods).code
        elif draw < 0.85:
            # First registered where registered now, under whatever code that county had then.
            if home.start_year <= year:
                return home.code
            stem = _stem(home.name)
            similar = [
                p
                for key in dict.fromkeys((stem, stem[0]))
                for p in _periods_by_stem().get(key, ())
                if p.covers(year)
            ]
            prefixes = [home.code[:4], home.code[:2]]
            if not _periods_in_year(self.province_code, year):
                prefixes.append("")  # Chongqing before 1997: its places were in Sichuan
            for prefix in prefixes:
                nearby = [p for p in similar if p.code.startswith(prefix)]
                if nearby:
                    return rng.choice(nearby).code
        periods = (
            _periods_in_year(self.province_code, year, home.code[:4])
            or _periods_in_year(self.province_code, year)
            or _periods_in_year("", year)
        )
        return rng.choice(periods).code
