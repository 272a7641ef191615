"""What went wrong, in the page's language: domain errors worded from their code and params
(Chinese first, English by the switch), the console's own refusals, and the audit log in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.console import i18n
from api.errors import ApiError
from core.exceptions import DomainError
from core.policy import Policy
from core.timeutil import TZ, month_of, now_local, parse_instant, parse_month, resolve_as_of
from subsidy.awards import advance_award, record_award
from subsidy.closing import check_closable
from subsidy.exceptions import InvalidValueError
from subsidy.report import check_reportable
from subsidy.sites import parse_registry
from subsidy.tokens import create_token
from tests.console.conftest import Seeded, form_csrf, sign_in
from tests.factories import CENTER, make_store

CJK = re.compile(r"[\u4e00-\u9fff]")


def _english(client: TestClient) -> None:
    """Switch the signed-in ``client`` to English (the language switch of every page)."""
    page = client.get("/console/uploads").text
    client.post("/console/lang", data={"lang": "en", "csrf": form_csrf(page)})


def _record_form(csrf: str, award_yuan: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "site_code": CENTER,
        "accredited_on": "2023-01-05",
        "document_no": "济政字〔2023〕1号",
        "award_yuan": award_yuan,
    }


# -- a bad month ------------------------------------------------------------------------------
def test_a_bad_month_is_told_in_chinese(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["finance"])
    for url in ("/console/report?month=2023-13", "/console/months/2023-13/close"):
        answer = client.get(url)
        assert answer.status_code == 422, url
        assert "「2023-13」不是有效的月份" in answer.text, url
        assert "not a month" not in answer.text, url


def test_a_bad_month_is_told_in_english_after_the_switch(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["finance"])
    _english(client)
    answer = client.get("/console/months/2023-13/close")
    assert answer.status_code == 422
    assert "not a month: &#39;2023-13&#39;; expected YYYY-MM" in answer.text
    main = answer.text.split('<main id="main"')[1].split("</main>")[0]
    assert not CJK.search(main)


# -- a month not over -------------------------------------------------------------------------
def test_a_month_not_over_is_told_in_chinese(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["finance"])
    month = month_of(now_local())
    answer = client.get(f"/console/months/{month}/close")
    assert answer.status_code == 409
    assert f"{month} 尚未结束，北京时间" in answer.text
    assert "is not over yet" not in answer.text


def test_a_month_not_over_is_told_in_english_after_the_switch(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["finance"])
    _english(client)
    month = month_of(now_local())
    answer = client.get(f"/console/months/{month}/close")
    assert answer.status_code == 409
    assert f"month {month} is not over yet; it can be closed from" in answer.text
    assert "尚未结束" not in answer.text


# -- an award over the cap --------------------------------------------------------------------
def test_an_award_over_the_cap_is_told_in_chinese(client: TestClient, seeded: Seeded) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    answer = client.post("/console/awards", data=_record_form(csrf, "500000.01"))
    assert answer.status_code == 422
    assert "奖励金额 500000.01 元（50000001 分）不允许：须大于 0 且不超过上限 500000.00 元" in (
        answer.text
    )
    assert "is not allowed" not in answer.text
    assert 'value="500000.01"' in answer.text  # the form is kept filled in


def test_an_award_over_the_cap_is_told_in_english_after_the_switch(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    _english(client)
    answer = client.post("/console/awards", data=_record_form(csrf, "500000.01"))
    assert answer.status_code == 422
    assert "award of 50000001 fen (500000.01 yuan) is not allowed" in answer.text
    assert "不超过上限" not in answer.text


def test_a_bad_amount_or_date_in_the_award_form_is_told_in_chinese(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    amount = client.post("/console/awards", data=_record_form(csrf, "五十万"))
    assert amount.status_code == 422
    assert "「五十万」不是有效的金额" in amount.text
    form = {**_record_form(csrf, "1000"), "accredited_on": "２０２３-01-05"}
    when = client.post("/console/awards", data=form)
    assert when.status_code == 422
    assert "「２０２３-01-05」不是有效的日期" in when.text


# -- a forbidden page -------------------------------------------------------------------------
def test_a_forbidden_page_is_told_in_chinese(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["operator"])
    answer = client.get("/console/awards")
    assert answer.status_code == 403
    assert "快递企业操作员角色无权打开此页面；需要财政局或审计局或管理员角色" in answer.text
    assert "may not open this page" not in answer.text


def test_a_forbidden_page_is_told_in_english_after_the_switch(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["operator"])
    _english(client)
    answer = client.get("/console/audit")
    assert answer.status_code == 403
    assert "the Carrier operator role may not open this page" in answer.text
    assert "无权打开此页面" not in answer.text


def test_another_carriers_upload_is_not_found_in_chinese(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["operator"])
    answer = client.get(f"/console/uploads/{seeded.uploads['YTO']}")
    assert answer.status_code == 404
    assert f"没有编号为 {seeded.uploads['YTO']} 的上传记录" in answer.text
    assert "no upload with id" not in answer.text


def test_a_script_still_gets_the_apis_english_json(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["operator"])
    answer = client.get("/console/awards", headers={"accept": "application/json"})
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"
    assert "may not open this page" in answer.json()["detail"]


def test_a_refused_form_token_is_told_in_chinese(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["finance"])
    answer = client.post("/console/awards", data=_record_form("not-the-token", "1000"))
    assert answer.status_code == 403
    assert "表单令牌与当前登录不符" in answer.text
    assert "does not match" not in answer.text


# -- the audit log in words -------------------------------------------------------------------
def test_the_audit_log_shows_actions_in_words_and_values_as_lines(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    recorded = client.post(
        "/console/awards", data=_record_form(csrf, "300000"), follow_redirects=False
    )
    assert recorded.status_code == 303
    award_id = re.search(r'data-award="(\d+)"', client.get("/console/awards").text)
    assert award_id
    csrf = sign_in(client, seeded.tokens["approver"])  # four eyes: another person approves
    client.post(f"/console/awards/{award_id.group(1)}/approve", data={"csrf": csrf})
    page = client.get("/console/audit").text
    for words in ("收到上传文件", "上传文件入库", "记录中心奖励", "审批中心奖励", "创建令牌"):
        assert words in page, words
    assert "奖励金额（元）：300,000.00" in page
    assert "状态：已认定" in page and "状态：已审批" in page
    assert f"奖励 #{award_id.group(1)}" in page
    cells = re.findall(r'<td class="change">(.*?)</td>', page, re.S)
    assert cells and not any("{&#34;" in c or '{"' in c for c in cells)  # no raw JSON
    actions = re.findall(r'<td class="action"[^>]*>([^<]*)</td>', page)
    assert actions and not any("." in a for a in actions)  # no raw action codes


def test_the_audit_log_in_english(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["auditor"])
    _english(client)
    page = client.get("/console/audit?action=upload").text
    assert "Upload received" in page and "Upload ingested" in page
    assert "收到上传文件" not in page


# -- error_text -------------------------------------------------------------------------------
def _raised(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as info:
        call()
    return info.value


def _policy_cases(policy: Policy, tmp_path: Path) -> dict[str, DomainError]:
    store = make_store(tmp_path / "data")
    now = datetime(2023, 5, 10, tzinfo=TZ)
    award = record_award(
        store,
        policy,
        site_code=CENTER,
        accredited_on=date(2023, 1, 5),
        document_no="doc",
        award_fen=100,
        actor="t",
        today=now.date(),
    )
    registry = tmp_path / "bad-sites.csv"
    registry.write_text(
        "site_code,name,kind,town,active_from\nA1,,hub,x,2023-01-01\nA1,n,other,x,nope\n"
    )

    def record(**over: object) -> None:
        args: dict[str, object] = {
            "site_code": CENTER,
            "accredited_on": date(2023, 1, 5),
            "document_no": "doc",
            "award_fen": 100,
            "actor": "t",
            "today": now.date(),
            **over,
        }
        record_award(store, policy, **args)  # type: ignore[arg-type]

    return {
        "bad_month": _raised(lambda: parse_month("2023-13")),
        "bad_instant": _raised(lambda: parse_instant("soon")),
        "as_of_too_early": _raised(lambda: resolve_as_of("1969-12-31", now)),
        "as_of_in_future": _raised(lambda: resolve_as_of("2030-01-01", now)),
        "month_not_begun": _raised(lambda: check_reportable("2023-06", now)),
        "month_not_over": _raised(lambda: check_closable(store, "2023-05", now)),
        "award_out_of_range": _raised(lambda: record(award_fen=policy.award_cap_fen + 1)),
        "accredited_in_future": _raised(lambda: record(accredited_on=date(2023, 6, 1))),
        "site_not_registered": _raised(lambda: record(site_code="NOPE")),
        "award_exists": _raised(lambda: record()),
        "award_wrong_status": _raised(lambda: advance_award(store, award.id, "paid", actor="t")),
        "unknown_role": _raised(
            lambda: create_token(store, role="boss", actor="t", carriers=policy.carriers)
        ),
        "registry_refused": _raised(lambda: parse_registry(registry)),
    }


#: Codes whose English words are exactly the domain's own sentence (no coded value labelled).
SAME_IN_ENGLISH = {
    "bad_month",
    "bad_instant",
    "as_of_too_early",
    "as_of_in_future",
    "month_not_begun",
    "month_not_over",
    "award_out_of_range",
    "accredited_in_future",
    "site_not_registered",
    "unknown_role",
}


def test_every_domain_error_is_worded_in_both_languages(policy: Policy, tmp_path: Path) -> None:
    for code, exc in _policy_cases(policy, tmp_path).items():
        assert exc.code == code
        zh = i18n.error_text(exc, "zh-CN")
        assert zh != str(exc) and CJK.search(zh), code
        assert "{" not in zh, code
        en = i18n.error_text(exc, "en")
        assert not CJK.search(en.replace("区级配送中心", "").replace("认定文号", "")), code
        if code in SAME_IN_ENGLISH:
            assert en == str(exc), code


def test_coded_values_are_shown_by_their_labels(policy: Policy, tmp_path: Path) -> None:
    cases = _policy_cases(policy, tmp_path)
    assert "当前为已认定；只有已审批的奖励才能变为已拨付" in i18n.error_text(
        cases["award_wrong_status"], "zh-CN"
    )
    registry = i18n.error_text(cases["registry_refused"], "zh-CN")
    assert "第 2 行（A1）：名称为空" in registry
    assert "第 3 行（A1）：启用日期不是 YYYY-MM-DD 格式的日期" in registry


def test_an_unknown_code_or_unfilled_words_fall_back_to_the_errors_own_sentence() -> None:
    unknown = InvalidValueError("something new went wrong", code="brand_new", x=1)
    assert i18n.error_text(unknown, "zh-CN") == "something new went wrong"
    missing = InvalidValueError("month 2023-05 is not over yet", code="month_not_over")
    assert i18n.error_text(missing, "zh-CN") == "month 2023-05 is not over yet"
    plain = ValueError("plain")
    assert i18n.error_text(plain, "zh-CN") == "plain"
    assert i18n.error_text(plain, "zh-CN", fallback="given") == "given"


def test_an_api_error_raised_from_a_domain_error_is_worded_by_it() -> None:
    try:
        try:
            parse_month("2023-13")
        except ValueError as exc:
            raise ApiError(422, "validation_error", str(exc)) from exc
    except ApiError as api:
        assert i18n.error_text(api, "zh-CN").startswith("「2023-13」不是有效的月份")


def test_both_languages_fill_the_same_params() -> None:
    """The words of a code use the same params in Chinese and English (a name missing in one
    language would make that language fall back to the English sentence)."""
    field = re.compile(r"\{(\w+)")
    for key, (zh, en) in i18n.MESSAGES.items():
        assert set(field.findall(zh)) == set(field.findall(en)), key
