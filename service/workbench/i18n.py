"""The workbench's words, Chinese (the default) and English, on top of the public pages'
(the layout they share reads those); the language is chosen as the public pages choose it."""

from __future__ import annotations

from typing import Any

from service.public.i18n import MESSAGES as PUBLIC_MESSAGES
from service.public.i18n import choose_language
from service.workbench.admin_i18n import ADMIN_MESSAGES
from service.workbench.inspection_words import INSPECTION_WORDS
from service.workbench.review_words import REVIEW_MESSAGES

__all__ = ["choose_language", "translated", "words"]

WORKBENCH_MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "site": "养老服务信用监管工作台",
        "staff_nav": "工作台导航",
        "home": "首页",
        "sign_in": "登录",
        "sign_in_title": "工作人员登录",
        "sign_out": "退出登录",
        "login": "登录名",
        "password": "密码",
        "password_again": "再次输入密码",
        "password_hint": "至少 10 个字符，不能包含登录名，不能是常见密码。",
        "code": "动态验证码（6 位数字）",
        "code_hint": "打开身份验证器应用（如 Google Authenticator、Microsoft Authenticator），输入当前显示的 6 位数字。",
        "code_title": "第二步：输入动态验证码",
        "continue": "继续",
        "errors_title": "请更正以下问题：",
        "enrolled_notice": "账户已启用，请登录。",
        "signed_out_notice": "您已退出登录。",
        "expired_notice": "会话已过期或尚未登录，请重新登录。",
        "locked": "失败次数过多，登录已锁定至 {until}（北京时间）。",
        "enrol_title": "启用账户",
        "enrol_intro": "{name}，您好。请为登录名 {login}（{role}）设置密码并绑定动态验证码。本链接仅可使用一次，有效期至 {until}（北京时间）。",
        "totp_title": "绑定动态验证码（第二重验证）",
        "totp_required": "您的角色必须使用动态验证码登录。",
        "totp_optional": "检查员可以选择不绑定；不绑定时请将验证码留空（管理员可以要求绑定）。",
        "totp_steps": "在身份验证器应用中选择“手动输入密钥”，输入下面的密钥（或使用 otpauth 链接），然后填写应用显示的 6 位数字。",
        "totp_secret": "密钥",
        "totp_uri": "otpauth 链接",
        "enrol_submit": "启用账户",
        "link_invalid_title": "链接无效",
        "link_expired_title": "链接已过期",
        "forbidden_title": "请求被拒绝",
        "csrf_refused": "表单已失效或来源不明（缺少或错误的安全令牌）。请返回上一页，刷新后重新提交。",
        "error_title": "出错了",
        "signed_in_as": "当前用户：{name}（{role}）",
        "home_title": "您可以做的事",
        "role_admin": "管理员",
        "role_inspector": "检查员",
        "role_reviewer": "审核员",
        "role_subsidy_client": "补贴系统",
        "region_scope": "辖区：{region}",
        "nationwide": "辖区：全部",
        "task_subjects": "查找机构和从业人员",
        "task_subjects_note": "按名称、统一社会信用代码或身份证号查找；查看信用、记录和名单。",
        "task_record": "记录检查、投诉、虐待认定、处罚与表彰",
        "task_record_note": "从主体页面开始；草稿随时保存，确认前可查看后果。",
        "task_queue": "名单待办",
        "task_queue_note": "按下一个期限排序的名单条目：告知、异议、决定、公示。",
        "task_admin": "系统管理",
        "task_admin_note": "用户与启用链接、政策版本、数据同步、审计链校验。",
        "password_rules_min": "至少需要 10 个字符",
        "password_rules_max": "最多 128 个字符",
        "password_rules_login": "不能包含登录名",
        "password_rules_common": "过于常见：在攻击者最先尝试的密码列表中",
        "password_rules_distinct": "至少使用 4 个不同的字符",
        "password_mismatch": "两次输入的密码不一致",
        "required": "必须填写",
        "wrong_password": "登录名或密码错误",
        "wrong_code": "验证码错误：请输入应用当前显示的 6 位数字",
        "used_code": "该验证码已经使用过：请等待应用显示下一个验证码",
        "bad_code": "请输入身份验证器应用显示的 6 位数字",
        "enrol_code_wrong": "验证码与应用当前显示的不符：请检查密钥是否输入正确、手机时间是否准确",
        "sign_in_restart": "登录超时或尚未开始：请重新登录",
        "needs_second_factor": "您的账户需要动态验证码，但尚未绑定：请联系管理员重置启用",
    },
    "en": {
        "site": "Elderly-care credit workbench",
        "staff_nav": "Workbench",
        "home": "Home",
        "sign_in": "Sign in",
        "sign_in_title": "Staff sign-in",
        "sign_out": "Sign out",
        "login": "Login name",
        "password": "Password",
        "password_again": "Password again",
        "password_hint": "At least 10 characters, not containing the login name, not a common password.",
        "code": "Code (6 digits)",
        "code_hint": "Open your authenticator app (Google Authenticator, Microsoft Authenticator, …) and enter the 6 digits it shows now.",
        "code_title": "Second step: your code",
        "continue": "Continue",
        "errors_title": "Please correct the following:",
        "enrolled_notice": "Your account is ready: sign in.",
        "signed_out_notice": "You have signed out.",
        "expired_notice": "Your session has ended or you are not signed in: sign in again.",
        "locked": "Too many failed attempts: sign-in is locked until {until} (China time).",
        "enrol_title": "Set up your account",
        "enrol_intro": "Hello {name}. Set a password for the login {login} ({role}) and link your authenticator app. This link works once, until {until} (China time).",
        "totp_title": "Second factor (authenticator app)",
        "totp_required": "Your role signs in with a code from an authenticator app.",
        "totp_optional": "Inspectors may go without one: leave the code empty (an administrator may require it).",
        "totp_steps": "In your authenticator app choose “enter a setup key”, type the key below (or open the otpauth link), then enter the 6 digits the app shows.",
        "totp_secret": "Key",
        "totp_uri": "otpauth link",
        "enrol_submit": "Set up my account",
        "link_invalid_title": "This link is not valid",
        "link_expired_title": "This link has expired",
        "forbidden_title": "Request refused",
        "csrf_refused": "This form has expired or did not come from this site (its security token is missing or wrong). Go back, reload the page and send it again.",
        "error_title": "Something went wrong",
        "signed_in_as": "Signed in as {name} ({role})",
        "home_title": "What you can do",
        "role_admin": "administrator",
        "role_inspector": "inspector",
        "role_reviewer": "reviewer",
        "role_subsidy_client": "subsidy system",
        "region_scope": "Region: {region}",
        "nationwide": "Region: all",
        "task_subjects": "Find institutions and care workers",
        "task_subjects_note": "By name, USCC or ID number; their credit, records and lists.",
        "task_record": "Log inspections, complaints, abuse findings, penalties, commendations",
        "task_record_note": "Start from a subject's page; drafts are saved as you go, and you see what follows before you confirm.",
        "task_queue": "List entries to handle",
        "task_queue_note": "Ordered by the next deadline: notices, objections, decisions, publication.",
        "task_admin": "Administration",
        "task_admin_note": "Users and enrolment links, policy versions, sync, the audit chain.",
        "password_rules_min": "must be at least 10 characters long",
        "password_rules_max": "must be at most 128 characters long",
        "password_rules_login": "must not contain the login name",
        "password_rules_common": "is too common: it is on a list of passwords attackers try first",
        "password_rules_distinct": "must use at least 4 different characters",
        "password_mismatch": "does not match the password",
        "required": "is required",
        "wrong_password": "the login name or the password is wrong",
        "wrong_code": "the code is wrong: enter the one your authenticator app shows now",
        "used_code": "this code was already used: wait for the next one your app shows",
        "bad_code": "enter the 6-digit code your authenticator app shows",
        "enrol_code_wrong": "this code is not the one your app shows now: check the key was typed correctly and the phone's clock is right",
        "sign_in_restart": "the sign-in took too long or was not started: start again",
        "needs_second_factor": "your account needs a second factor that is not set up: ask an administrator to reset your enrolment",
    },
}
# Each area's pages keep their words in a module of their own (none replaces another's).
for _area_words in (ADMIN_MESSAGES, REVIEW_MESSAGES, INSPECTION_WORDS):
    for _lang, _words in _area_words.items():
        WORKBENCH_MESSAGES[_lang] |= _words

# The domain's messages (English, as the API gives them) and the words that say them here.
_KNOWN_MESSAGES = {
    "must be at least 10 characters long": "password_rules_min",
    "must be at most 128 characters long": "password_rules_max",
    "must not contain the login name": "password_rules_login",
    "is too common: it is on a list of passwords attackers try first": "password_rules_common",
    "must use at least 4 different characters": "password_rules_distinct",
    "does not match the password": "password_mismatch",
    "is required": "required",
    "the login name or the password is wrong": "wrong_password",
    "the code is wrong: enter the one your authenticator app shows now": "wrong_code",
    "this code was already used: wait for the next one your app shows": "used_code",
    "enter the 6-digit code your authenticator app shows": "bad_code",
    "this code is not the one your app shows now: check the secret was added correctly and "
    "the phone's clock is right": "enrol_code_wrong",
    "the sign-in took too long or was not started: start again": "sign_in_restart",
    "your account needs a second factor that is not set up: ask an administrator to reset "
    "your enrolment": "needs_second_factor",
}


def words(lang: str) -> dict[str, Any]:
    """Every word a workbench page may use: the shared layout's, then the workbench's."""
    return PUBLIC_MESSAGES[lang] | WORKBENCH_MESSAGES[lang]


def translated(message: str, lang: str) -> str:
    """A domain message in the page's language where it is known; as given otherwise."""
    key = _KNOWN_MESSAGES.get(message)
    return WORKBENCH_MESSAGES[lang][key] if key else message
