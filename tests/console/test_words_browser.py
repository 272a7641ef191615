"""Couriers' real exports in headless Chromium against a live ``parcel-subsidy serve`` (SPEC
§3a): an operator previews a file, then stores it; a refused file is previewed and dropped; a
failed upload shows in the list at once; an admin maps an unknown scan word and sees the
uploads it cost judged again. Screenshots: ``results/screenshots/upload-preview*.png`` and
``scan-words*.png`` (desktop and phone width).

The tests of this module run in order against one server (the admin maps the word the
operator's upload did not know).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.console.conftest import Live, Tab
from tests.console.test_preview_and_words import WORD, mostly_unknown, partly_unknown

PHONE = 390


def test_an_operator_previews_a_file_then_stores_it(tab: Tab, live: Live, tmp_path: Path) -> None:
    tab.sign_in("operator")
    export = partly_unknown(tmp_path / "中通扫描明细-2023-06.csv")
    tab.page.get_by_label(re.compile("文件")).set_input_files(str(export))
    with tab.page.expect_navigation(url=re.compile(r"/console/uploads/preview/[0-9a-f]{32}$")):
        tab.page.get_by_role("button", name="上传并预览").click()
    preview = tab.page.locator("#preview")
    assert preview.get_attribute("data-refused") == "false"
    assert preview.get_attribute("data-accepted") == "16"
    assert "可以入库：16 行将入库，4 行将被拒收" in tab.page.inner_text("#preview-ok")
    assert tab.page.locator(f'#preview-unmatched tr[data-word="{WORD}"]').count() == 1
    tab.shot("upload-preview")
    tab.shot("upload-preview-phone", width=PHONE)
    with live.api("operator") as api:
        before = api.get("/v1/uploads").json()["items"]
    assert all(u["filename"] != export.name for u in before)  # nothing stored yet

    with tab.page.expect_navigation(url=re.compile(r"/console/uploads/\d+$")):
        tab.page.get_by_role("button", name="确认入库").click()
    tab.page.wait_for_selector("#upload-state[data-status='ingested']")
    upload_id = int(tab.page.url.rsplit("/", 1)[1])
    with live.api("operator") as api:
        stats = api.get(f"/v1/uploads/{upload_id}").json()
    assert (stats["accepted"], stats["rejected"], stats["filename"]) == (16, 4, export.name)
    tab.shot("upload-preview-stored")


def test_a_file_that_would_be_refused_is_previewed_and_dropped(
    tab: Tab, live: Live, tmp_path: Path
) -> None:
    tab.sign_in("operator")
    tab.page.get_by_label(re.compile("文件")).set_input_files(
        str(mostly_unknown(tmp_path / "m.csv"))
    )
    with tab.page.expect_navigation(url=re.compile(r"/preview/")):
        tab.page.get_by_role("button", name="上传并预览").click()
    refusal = tab.page.inner_text("#preview-refusal")
    assert "整个文件将被拒收" in refusal and "5 行中有 4 行将被拒收（超过 50%）" in refusal
    assert tab.page.locator("#preview-commit").count() == 0
    tab.shot("upload-preview-refused")
    tab.shot("upload-preview-refused-phone", width=PHONE)
    with tab.page.expect_navigation(url=re.compile(r"/console/uploads\?cancelled=1$")):
        tab.page.get_by_role("button", name="取消").click()
    assert "已取消，文件未入库。" in tab.page.inner_text("#preview-cancelled")


def test_a_failed_upload_shows_in_the_list_with_its_reason_without_a_reload(
    tab: Tab, tmp_path: Path
) -> None:
    """The form's script path as scripts use it (straight to ``/console/uploads``): the file
    is refused 422 and recorded; the list shows it at once, in Chinese, the page not left."""
    tab.sign_in("operator")
    junk = tmp_path / "坏文件.csv"
    junk.write_bytes(b"\x00\x01 not an export")
    tab.page.eval_on_selector("#upload-form", "f => f.setAttribute('data-url', '/console/uploads')")
    url = tab.page.url
    tab.page.get_by_label(re.compile("文件")).set_input_files(str(junk))
    tab.page.get_by_role("button", name="上传并预览").click()
    tab.page.wait_for_selector("#uploads-list[data-refreshed]")
    assert tab.page.url == url
    status = tab.page.inner_text("#upload-status")
    assert status.startswith("上传失败") and "不是 Excel 工作簿" in status
    row = tab.page.locator("#uploads-table tbody tr", has_text="坏文件.csv")
    assert row.get_attribute("data-status") == "refused"
    assert "文件既不是 Parquet、CSV 文本，也不是 Excel 工作簿" in row.inner_text()
    tab.shot("upload-preview-failed-list")
    # the browser logs the refused request itself; that one is expected, nothing else is
    expected = [e for e in tab.errors if "status of 422" in e and e.endswith("/console/uploads")]
    assert len(expected) == 1, tab.errors
    tab.errors.remove(expected[0])


def test_an_admin_maps_the_unknown_word_and_rejudges_in_one_step(tab: Tab, live: Live) -> None:
    tab.sign_in("admin")
    tab.open("/console/scan-words")
    word = tab.page.locator(f'#unmatched li.word[data-word="{WORD}"]')
    assert word.get_attribute("data-rows") == "4"
    tab.shot("scan-words")
    tab.shot("scan-words-phone", width=PHONE)
    word.get_by_label("标准扫描类型").select_option("arrive")
    word.get_by_label(re.compile("说明")).fill("中通的新写法")
    with tab.page.expect_navigation():
        word.get_by_role("button", name="映射并重新判定").click()
    result = tab.page.inner_text("#map-result")
    assert f"已将「{WORD}」映射为到件（全部快递企业），并重新判定了 1 个上传。" in result
    line = tab.page.locator("#rejudged tbody tr")
    assert line.get_attribute("data-status") == "ingested"
    assert line.get_attribute("data-accepted") == "20"
    assert tab.page.locator(f'#unmatched li.word[data-word="{WORD}"]').count() == 0
    tab.shot("scan-words-result")
    tab.shot("scan-words-result-phone", width=PHONE)
    with live.api("admin") as api:
        words = api.get("/v1/scan-words").json()["words"]
    assert [w["scan_type"] for w in words if w["word"] == WORD] == ["arrive"]
