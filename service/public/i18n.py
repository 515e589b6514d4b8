"""The public pages' words, in Chinese (the default) and English, and choosing between them."""

from __future__ import annotations

LANGUAGES = ("zh", "en")
DEFAULT = "zh"

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "site": "养老服务信用信息公示",
        "tagline": "查询养老机构的信用等级、星级、名单与行政处罚",
        "search": "搜索",
        "search_label": "机构名称或统一社会信用代码",
        "search_placeholder": "例如：颐养院 或 52330102…",
        "region_label": "行政区划代码（可选）",
        "results": "共 {total} 家机构",
        "results_at_least": "{total} 家以上机构",
        "no_results": "没有找到符合条件的机构。",
        "name": "名称",
        "uscc": "统一社会信用代码",
        "uscc_short": "统一社会信用代码",
        "region": "行政区划",
        "kind": "类型",
        "status": "经营状态",
        "beds": "床位数",
        "grade": "信用等级",
        "no_grade": "尚未评价",
        "stars": "星级",
        "stars_none": "未评定",
        "stars_count": "{n} 星",
        "in_parentheses": "（{}）",
        "stars_suspended": "暂停使用（失信名单）",
        "stars_capped": "（受信用等级限制，评定为 {assessed} 星）",
        "lists": "名单状态",
        "not_listed": "未列入任何名单",
        "effective": "有效期",
        "measures": "措施",
        "reason": "列入事由",
        "penalties": "行政处罚（公示期内）",
        "no_penalties": "没有公示期内的行政处罚。",
        "decision_no": "决定书文号",
        "decision_date": "决定日期",
        "violation_type": "违法行为类型",
        "content": "处罚内容",
        "authority": "处罚机关",
        "publication_end": "公示截止",
        "commendations": "表彰奖励",
        "no_commendations": "没有表彰奖励记录。",
        "as_of": "数据截至 {as_of}，最近一次变动 {updated}",
        "lists_nav": "公示名单",
        "list_black": "失信联合惩戒对象名单（黑名单）",
        "list_watch": "重点关注名单",
        "list_red": "守信激励名单（红名单）",
        "list_entries": "共 {total} 条在册",
        "no_entries": "名单中暂无记录。",
        "subject": "主体",
        "id_number_masked": "身份证号（脱敏）",
        "download_snapshot": "下载全部在册名单（CSV）",
        "download_changes": "下载变动（CSV）",
        "since": "起始日期（格式：年-月-日，如 {example}）",
        "date_format": "请按“年-月-日”填写，如 2025-03-10",
        "open_period": "{start} 起",
        "page": "第 {page} 页",
        "previous": "上一页",
        "next": "下一页",
        "not_found": "没有找到统一社会信用代码为 {uscc} 的机构。",
        "language": "English",
        "transparency": "公开验证",
        "kind_residential": "养老机构",
        "kind_community": "社区养老服务机构",
        "kind_home_care": "居家养老服务机构",
        "status_operating": "正常运营",
        "status_suspended": "暂停运营",
        "status_closed": "已关闭",
        "person": "个人",
        "privacy": "个人信息依法脱敏公示；从业人员仅在列入失信联合惩戒对象名单期间公示。",
    },
    "en": {
        "site": "Elderly-care credit information",
        "tagline": "Look up a care institution's credit grade, stars, list status and penalties",
        "search": "Search",
        "search_label": "Institution name or unified social credit code",
        "search_placeholder": "e.g. 颐养院 or 52330102…",
        "region_label": "Region code (optional)",
        "results": "{total} institutions",
        "results_at_least": "{total} or more institutions",
        "no_results": "No institution matches.",
        "name": "Name",
        "uscc": "Unified social credit code",
        "uscc_short": "USCC",
        "region": "Region",
        "kind": "Kind",
        "status": "Status",
        "beds": "Beds",
        "grade": "Credit grade",
        "no_grade": "Not yet graded",
        "stars": "Stars",
        "stars_none": "Not rated",
        "stars_count": "{n} stars",
        "in_parentheses": " ({})",
        "stars_suspended": "Suspended (black list)",
        "stars_capped": "(capped by the credit grade; assessed {assessed} stars)",
        "lists": "List status",
        "not_listed": "On no list",
        "effective": "In force",
        "measures": "Measures",
        "reason": "Reason",
        "penalties": "Administrative penalties (in their publication period)",
        "no_penalties": "No penalty in its publication period.",
        "decision_no": "Decision no.",
        "decision_date": "Decided on",
        "violation_type": "Violation",
        "content": "Penalty",
        "authority": "Authority",
        "publication_end": "Published until",
        "commendations": "Commendations",
        "no_commendations": "No commendation on record.",
        "as_of": "Data as of {as_of}; last changed {updated}",
        "lists_nav": "Published lists",
        "list_black": "Black list (joint punishment for serious dishonesty)",
        "list_watch": "Watch list",
        "list_red": "Red list (honour list)",
        "list_entries": "{total} entries in force",
        "no_entries": "The list is empty.",
        "subject": "Subject",
        "id_number_masked": "ID number (masked)",
        "download_snapshot": "Download every entry in force (CSV)",
        "download_changes": "Download changes (CSV)",
        "since": "Since (format: YYYY-MM-DD, e.g. {example})",
        "date_format": "A date as YYYY-MM-DD, e.g. 2025-03-10",
        "open_period": "from {start}",
        "page": "Page {page}",
        "previous": "Previous",
        "next": "Next",
        "not_found": "No institution has the code {uscc}.",
        "language": "中文",
        "transparency": "Transparency",
        "kind_residential": "Residential care home",
        "kind_community": "Community care centre",
        "kind_home_care": "Home-care provider",
        "status_operating": "Operating",
        "status_suspended": "Suspended",
        "status_closed": "Closed",
        "person": "Individual",
        "privacy": (
            "Personal data is masked as the law requires; a care worker is shown only "
            "while on the black list."
        ),
    },
}


def choose_language(asked: str | None, accept_language: str | None) -> str:
    """``?lang=`` first, then the browser's preference, then Chinese."""
    if asked in LANGUAGES:
        return asked
    preferences = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            preferences.append((-weight, position, primary))
    return min(preferences)[2] if preferences else DEFAULT
