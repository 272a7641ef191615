"""Couriers' real exports in the console (SPEC §3a): the preview before an upload is stored
(the file sent once, held under a token for its operator only, bounded), refusals worded in
Chinese in the upload list (the inbox's too), and an admin mapping an unknown scan word and
re-judging the uploads it cost in one step, which leaves the store and the reports as a clean
ingest with the mapping in place from the start would.
"""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from api.console import previews
from api.upload_stream import ReceivedFile
from core.policy import Policy
from core.store import Store
from core.timeutil import now_local
from ingest.inbox import inbox_dir, ingest_inbox
from ingest.scan_words import add_word, list_words
from ingest.uploads import ingest_file
from tests.console.conftest import Seeded, sign_in
from tests.factories import CENTER, HUB, NOW, cst, report, report_core, stored_events

WORD = "中转到达"


def partly_unknown(path: Path) -> Path:
    """ZTO's June export: ten parcels, four arriving with 中转到达 (not known): 4 of 20 rows."""
    lines = ["中通快递扫描明细 2023-06", "运单号,扫描类型,扫描网点,扫描时间"]
    for i in range(10):
        word = "到件扫描" if i < 6 else WORD
        lines.append(f"ZT6{i:09d},发件扫描,{CENTER},2023-06-{3 + i:02d} 10:00:00")
        lines.append(f"ZT6{i:09d},{word},{HUB},2023-06-{3 + i:02d} 18:00:00")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mostly_unknown(path: Path) -> Path:
    """Another June export: four of five rows say 中转到达, so the file is refused whole."""
    lines = ["运单号,扫描类型,扫描网点,扫描时间"]
    lines.append(f"ZT7000000000,发件扫描,{CENTER},2023-06-20 10:00:00")
    lines += [f"ZT7{i:09d},{WORD},{HUB},2023-06-21 1{i}:00:00" for i in range(4)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _script(csrf: str) -> dict[str, str]:
    return {"accept": "application/json", "x-csrf-token": csrf}


def _preview(client: TestClient, csrf: str, path: Path) -> str:
    """Send ``path`` for a preview; its page's URL."""
    answer = client.post(
        "/console/uploads/preview",
        files={"file": (path.name, path.read_bytes(), "text/csv")},
        headers=_script(csrf),
    )
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert re.fullmatch(r"/console/uploads/preview/[0-9a-f]{32}", url)
    return str(url)


def _upload_count(store: Store) -> int:
    with store.connect() as db:
        return int(db.execute("SELECT count(*) FROM uploads").fetchone()[0])


def _held(store: Store) -> list[Path]:
    folder = previews.PreviewHold.folder(store)
    return sorted(folder.iterdir()) if folder.exists() else []


def test_the_preview_shows_what_an_upload_would_give_then_stores_the_file_sent_once(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    store = seeded.store
    csrf = sign_in(client, seeded.tokens["operator"])
    before = _upload_count(store)
    url = _preview(client, csrf, partly_unknown(tmp_path / "中通-06.csv"))
    assert _upload_count(store) == before  # nothing stored
    assert len(_held(store)) == 1
    page = client.get(url).text
    assert 'data-refused="false"' in page
    assert 'data-accepted="16"' in page and 'data-rows-read="20"' in page
    assert "可以入库：16 行将入库，4 行将被拒收" in page
    assert f'data-word="{WORD}"' in page and "不认识的扫描类型" in page
    assert "未知扫描类型" in page  # the reason, in Chinese, with its examples
    assert ">运单号 <span" in page and "扫描时间" in page  # the columns recognised
    assert "中通快递扫描明细" not in page  # the title row is skipped: header on row 2
    # another operator, and staff, cannot see it
    other = TestClient(client.app, base_url="http://testserver")
    sign_in(other, seeded.tokens["other_operator"])
    assert other.get(url).status_code == 404
    assert other.post(f"{url}/commit", data={"csrf": "x"}).status_code in (403, 404)
    # stored without sending the file again: the same intake as an upload
    page_csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert page_csrf
    stored = client.post(f"{url}/commit", data={"csrf": page_csrf.group(1)}, follow_redirects=False)
    assert stored.status_code == 303, stored.text
    upload_id = int(stored.headers["location"].rsplit("/", 1)[1])
    detail = client.get(stored.headers["location"]).text
    assert 'data-status="ingested"' in detail
    assert 'data-field="accepted" data-value="16"' in detail
    assert _held(store) == []
    assert client.get(url).status_code == 404  # used: gone
    with store.connect() as db:
        row = db.execute("SELECT source FROM uploads WHERE id=?", (upload_id,)).fetchone()
    assert row["source"] == "api"


def test_a_file_that_would_be_refused_says_why_in_chinese_and_cannot_be_stored(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    csrf = sign_in(client, seeded.tokens["operator"])
    page = client.get(_preview(client, csrf, mostly_unknown(tmp_path / "m.csv"))).text
    assert 'data-refused="true"' in page
    assert "整个文件将被拒收" in page
    assert "5 行中有 4 行将被拒收（超过 50%）" in page
    assert f"未知扫描类型 4 行（{WORD} (4)）" in page
    assert 'id="preview-commit"' not in page
    assert "would be rejected" not in page


def test_cancel_drops_the_file_and_the_hold_is_bounded_per_operator(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    store = seeded.store
    csrf = sign_in(client, seeded.tokens["operator"])
    urls = []
    for i in range(previews.HOLD_PER_USER + 1):
        path = partly_unknown(tmp_path / f"f{i}.csv")
        path.write_text(path.read_text("utf-8") + f"ZT9{i:09d},发件扫描,{CENTER},2023-06-01\n")
        urls.append(_preview(client, csrf, path))
    assert len(_held(store)) == previews.HOLD_PER_USER
    assert client.get(urls[0]).status_code == 404  # the oldest went first
    cancelled = client.post(f"{urls[-1]}/cancel", data={"csrf": csrf}, follow_redirects=False)
    assert cancelled.status_code == 303
    assert len(_held(store)) == previews.HOLD_PER_USER - 1
    assert "已取消，文件未入库。" in client.get(cancelled.headers["location"]).text
    assert client.get(urls[-1]).status_code == 404


def test_refusals_read_chinese_in_the_list_inbox_ones_too(
    client: TestClient, seeded: Seeded, policy: Policy, tmp_path: Path
) -> None:
    store = seeded.store
    drop = inbox_dir(store) / "ZTO"
    drop.mkdir(parents=True, exist_ok=True)
    mostly_unknown(drop / "inbox-m.csv")
    (inbox_dir(store) / "loose.csv").write_text("运单号\nZT1\n", encoding="utf-8")
    ingest_inbox(store, policy, now=now_local(), settle=timedelta(0))
    csrf = sign_in(client, seeded.tokens["operator"])
    junk = client.post(
        "/console/uploads",
        files={"file": ("junk.csv", b"\x00\x01binary", "text/csv")},
        headers=_script(csrf),
    )
    assert junk.status_code == 422
    words = junk.headers["x-error-text"]  # the script shows it in the page's language
    assert "%E6%96%87%E4%BB%B6" in words  # 文件 ...
    listing = client.get("/console/uploads?status=refused").text
    assert "5 行中有 4 行将被拒收（超过 50%）" in listing  # the inbox file, mostly rejected
    assert "文件既不是 Parquet、CSV 文本，也不是 Excel 工作簿" in listing
    assert "would be rejected" not in listing and "neither Parquet" not in listing
    staff = TestClient(client.app, base_url="http://testserver")
    sign_in(staff, seeded.tokens["admin"])
    every = staff.get("/console/uploads?status=refused").text
    assert "文件直接放在 inbox/ 下" in every  # the loose file: no carrier, admin sees it


def _commit(client: TestClient, csrf: str, path: Path) -> int:
    url = _preview(client, csrf, path)
    stored = client.post(f"{url}/commit", headers=_script(csrf))
    assert stored.status_code == 202, stored.text
    return int(stored.json()["id"])


@pytest.mark.parametrize("role", ["operator", "finance", "auditor"])
def test_only_an_admin_maps_a_word(client: TestClient, seeded: Seeded, role: str) -> None:
    csrf = sign_in(client, seeded.tokens[role])
    answer = client.post(
        "/console/scan-words/map",
        data={"csrf": csrf, "word": WORD, "scan_type": "arrive"},
    )
    assert answer.status_code == 403
    assert client.get("/console/scan-words").status_code == 403
    assert all(w["word"] != WORD for w in list_words(seeded.store))


def test_mapping_a_word_rejudges_the_uploads_it_cost_as_a_clean_ingest_would(
    client: TestClient,
    seeded: Seeded,
    seeded_template: Seeded,
    policy: Policy,
    tmp_path: Path,
) -> None:
    store = seeded.store
    csrf = sign_in(client, seeded.tokens["operator"])
    files = [partly_unknown(tmp_path / "a.csv"), mostly_unknown(tmp_path / "b.csv")]
    first, second = (_commit(client, csrf, f) for f in files)
    listing = client.get("/console/uploads").text
    assert re.search(rf'data-upload="{second}" data-status="refused"', listing)

    admin = TestClient(client.app, base_url="http://testserver")
    admin_csrf = sign_in(admin, seeded.tokens["admin"])
    page = admin.get("/console/scan-words").text
    assert f'data-word="{WORD}" data-rows="8"' in page
    assert f"/console/uploads/{first}" in page and f"/console/uploads/{second}" in page
    mapped = admin.post(
        "/console/scan-words/map",
        data={"csrf": admin_csrf, "word": WORD, "scan_type": "arrive", "reason": "中通新写法"},
    )
    assert mapped.status_code == 200, mapped.text
    result = mapped.text
    assert f"已将「{WORD}」映射为到件（全部快递企业），并重新判定了 2 个上传。" in result
    lines = re.findall(r'data-upload="(\d+)" data-status="(\w+)" data-accepted="(\d+)"', result)
    assert lines == [(str(first), "ingested", "20"), (str(second), "ingested", "5")]
    assert f'data-word="{WORD}" data-rows' not in result  # no longer unknown
    assert 'id="added-words"' in result and f'data-word="{WORD}"' in result
    with store.connect() as db:
        audit = [
            (r["actor"], r["action"])
            for r in db.execute(
                "SELECT actor, action FROM audit_log WHERE action IN"
                " ('scan_word.added', 'upload.rejudged') ORDER BY id"
            )
        ]
    assert [a for _, a in audit] == ["scan_word.added", "upload.rejudged", "upload.rejudged"]
    actors = {actor for actor, _ in audit}
    assert len(actors) == 1 and "管理员" in actors.pop()  # the admin who mapped, by name
    with store.connect() as db:
        reasons = [
            r[0]
            for r in db.execute(
                "SELECT new_value FROM audit_log WHERE action=?", ("upload.rejudged",)
            )
        ]
    assert all("中通新写法" in r for r in reasons)

    clean = Store(tmp_path / "clean")
    shutil.copytree(seeded_template.store.root, clean.root)
    clean.init()
    add_word(clean, WORD, "arrive", None, actor="admin", carriers=policy.carriers)
    for path in files:
        ingest_file(clean, path, policy, carrier="ZTO", now=NOW)

    def events(s: Store) -> list[dict[str, object]]:
        return (
            stored_events(s).drop("upload_id").sort("carrier", "waybill_no", "scan_time").to_dicts()
        )

    assert events(store) == events(clean)
    as_of = cst(2023, 7, 2)
    assert report_core(report(store, "2023-06", as_of, policy)) == report_core(
        report(clean, "2023-06", as_of, policy)
    )
    assert report(store, "2023-06", as_of, policy)["totals"]["eligible_parcels"] >= 10


def test_an_admin_removes_an_added_word(client: TestClient, seeded: Seeded, policy: Policy) -> None:
    added = add_word(seeded.store, "卸车", "other", "ZTO", actor="t", carriers=policy.carriers)
    csrf = sign_in(client, seeded.tokens["admin"])
    page = client.get("/console/scan-words").text
    assert f'data-word-id="{added["id"]}"' in page
    gone = client.post(f"/console/scan-words/{added['id']}/delete", data={"csrf": csrf})
    assert gone.status_code == 200
    assert "已删除「卸车」。" in gone.text
    assert f'data-word-id="{added["id"]}"' not in gone.text
    assert all(w["id"] != added["id"] for w in list_words(seeded.store))


def test_the_new_pages_read_english_after_the_switch(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    csrf = sign_in(client, seeded.tokens["operator"])
    page = client.get("/console/uploads").text
    client.post("/console/lang", data={"lang": "en", "csrf": csrf})
    assert "Upload and preview" in client.get("/console/uploads").text
    preview = client.get(_preview(client, csrf, mostly_unknown(tmp_path / "m.csv"))).text
    assert "The whole file would be refused" in preview
    assert "4 of 5 rows would be rejected (more than 50%)" in preview
    assert "Unknown scan type: 4 rows" in preview
    assert "整个文件将被拒收" not in preview and "可以入库" not in preview
    assert page  # the Chinese page before the switch
    admin = TestClient(client.app, base_url="http://testserver")
    admin_csrf = sign_in(admin, seeded.tokens["admin"])
    admin.post("/console/lang", data={"lang": "en", "csrf": admin_csrf})
    words = admin.get("/console/scan-words").text
    assert "Scan types recent uploads did not know" in words and "Shipped words (38)" in words


def test_the_hold_is_bounded_in_files_and_bytes_and_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most HOLD_FILES files and HOLD_UPLOADS upload limits of bytes in all (the oldest go
    first, their bytes removed), and none older than HOLD_SECONDS."""
    store = Store(tmp_path / "data").init()
    hold = previews.PreviewHold()
    clock = [1000.0]
    monkeypatch.setattr(previews.time, "monotonic", lambda: clock[0])

    def send(actor: str, size: int) -> previews.Held:
        path = store.tmp_dir / f"in-{actor}-{clock[0]}"
        store.tmp_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        who = SimpleNamespace(principal=SimpleNamespace(actor=actor, carrier="ZTO"))
        clock[0] += 1
        received = ReceivedFile(path, "0" * 64, size, "f.csv")
        return hold.keep(store, received, cast(Any, who), limit=100)  # a stand-in session

    first = [send(f"op{i}", 100) for i in range(previews.HOLD_UPLOADS)]
    assert hold.held_bytes() == 400 and len(hold) == previews.HOLD_UPLOADS
    send("late", 50)  # 450 > 4 x 100: the oldest goes, its bytes too
    assert len(hold) == previews.HOLD_UPLOADS and not first[0].path.exists()
    assert hold.held_bytes() <= previews.HOLD_UPLOADS * 100
    for i in range(previews.HOLD_FILES + 5):
        send(f"small{i}", 1)
    assert len(hold) == previews.HOLD_FILES
    assert len(list(previews.PreviewHold.folder(store).iterdir())) == previews.HOLD_FILES
    clock[0] += previews.HOLD_SECONDS + 1
    send("fresh", 1)
    assert len(hold) == 1
    assert len(list(previews.PreviewHold.folder(store).iterdir())) == 1


def test_the_preview_names_an_earlier_upload_only_of_the_operators_carrier(
    client: TestClient, seeded: Seeded, seeded_template: Seeded
) -> None:
    history = seeded_template.store.root.parent
    csrf = sign_in(client, seeded.tokens["operator"])
    own = client.get(_preview(client, csrf, history / "ZTO-history.parquet")).text
    assert f"这个文件已经上传过（上传 #{seeded.uploads['ZTO']}）" in own
    other = client.get(_preview(client, csrf, history / "YTO-history.parquet")).text
    assert 'id="preview-already"' not in other  # YTO's upload is not named to ZTO
    assert "整个文件将被拒收" in other  # and its rows name another carrier
