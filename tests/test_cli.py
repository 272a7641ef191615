"""The command line contract (SPEC §8), driven in-process through ``cli.main`` and, where a
real process must die, as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import cli
from core.policy import DEFAULT_POLICY_PATH, load_policy
from core.store import Store
from ingest.uploads import STEPS
from subsidy.report import served_report
from tests.factories import (
    DAY,
    cst,
    parcel,
    report,
    scan,
    store_state,
    write_csv,
    write_parquet,
    write_sites_csv,
)

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2023-06-10T00:00:00+08:00"

ZTO_ROWS = (
    parcel("ZT7000000001", cst(2023, 5, 1, 9), DAY)
    + parcel("ZT7000000002", cst(2023, 5, 2, 9), 2 * DAY)
    + parcel("ZT7000000003", cst(2023, 5, 30, 9), None)  # no arrival by 06-10
    + parcel("ZT7000000004", cst(2023, 5, 8, 9), 9 * DAY)  # late
)
SF_ROWS = parcel("SF7000000001", cst(2023, 5, 3, 9), DAY, carrier="SF")


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@dataclass
class Cli:
    """The CLI bound to one data dir: ``ps("report", "--month", "2023-05")``."""

    capsys: pytest.CaptureFixture[str]
    data: Path

    def __call__(self, *argv: object) -> tuple[int, str, str]:
        return run(self.capsys, "--data-dir", self.data, *argv)


@pytest.fixture
def ps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A data dir with the test sites imported through the CLI."""
    bound = Cli(capsys, tmp_path / "data")
    code, out, _ = bound("sites", "import", write_sites_csv(tmp_path / "s.csv"))
    assert code == 0
    assert out == "sites imported: sites 6, district_center 2, village_hub 3, other 1\n"
    return bound


@pytest.fixture
def exports(tmp_path: Path) -> dict[str, Path]:
    return {
        "zto": write_parquet(tmp_path / "ZTO-2023-05.parquet", ZTO_ROWS),
        "sf": write_csv(tmp_path / "SF-2023-05.csv", SF_ROWS),
    }


def test_report_json_is_exactly_the_spec_shape(ps: Cli, exports: dict[str, Path]) -> None:
    assert ps("ingest", exports["zto"], "--carrier", "ZTO")[0] == 0
    assert ps("ingest", exports["sf"], "--carrier", "sf")[0] == 0
    code, out, err = ps("report", "--month", "2023-05", "--as-of", AS_OF, "--format", "json")
    assert (code, err) == (0, "")
    assert out.count("\n") == 1  # one JSON object, one line
    rep = json.loads(out)
    no_reason = {"no_hub_arrival": 0, "late_hub_arrival": 0, "outside_policy_window": 0}
    assert {k: rep[k] for k in ("month", "as_of", "carriers", "totals", "center_awards")} == {
        "month": "2023-05",
        "as_of": AS_OF,
        "carriers": [
            {
                "carrier": "SF",
                "carrier_name": "顺丰",
                "eligible_parcels": 1,
                "rate_fen": 20,
                "rates_fen": [20],
                "subsidy_fen": 20,
                "subsidy_yuan": "0.20",
                "pending_parcels": 0,
                "ineligible": no_reason,
            },
            {
                "carrier": "ZTO",
                "carrier_name": "中通",
                "eligible_parcels": 2,
                "rate_fen": 20,
                "rates_fen": [20],
                "subsidy_fen": 40,
                "subsidy_yuan": "0.40",
                "pending_parcels": 0,
                "ineligible": {**no_reason, "no_hub_arrival": 1, "late_hub_arrival": 1},
            },
        ],
        "totals": {
            "eligible_parcels": 3,
            "subsidy_fen": 60,
            "subsidy_yuan": "0.60",
            "pending_parcels": 0,
            "ineligible": {**no_reason, "no_hub_arrival": 1, "late_hub_arrival": 1},
        },
        "center_awards": [],
    }
    for row in [*rep["carriers"], rep["totals"]]:
        assert type(row["subsidy_fen"]) is int
        assert type(row["eligible_parcels"]) is int


@pytest.mark.parametrize(
    "as_of",
    [
        pytest.param("2023-06-10", id="date"),
        pytest.param("2023-06-10T00:00:00", id="naive"),
        pytest.param("2023-06-09T16:00:00Z", id="utc-Z"),
        pytest.param("2023-06-10T00:00:00+08:00", id="offset"),
    ],
)
def test_as_of_forms_are_the_same_instant(ps: Cli, as_of: str) -> None:
    code, out, _ = ps("report", "--month", "2023-05", "--as-of", as_of, "--format", "json")
    assert code == 0
    assert json.loads(out)["as_of"] == AS_OF


def test_ingest_prints_counts_per_file(ps: Cli, tmp_path: Path) -> None:
    rows = [*ZTO_ROWS, ZTO_ROWS[0], scan("x", "depart", "JY-C01", cst(2023, 5, 1))]
    path = write_parquet(tmp_path / "ZTO.parquet", rows)
    code, out, err = ps("ingest", path, "--carrier", "ZTO")
    assert (code, err) == (0, "")
    assert out == (
        f"{path}: upload 1 ingested; rows read 13, accepted 11, rejected 1 (bad_waybill 1), "
        "duplicates 1\n"
    )
    code, out, _ = ps("ingest", path, "--carrier", "ZTO")
    assert code == 0
    assert out.startswith(f"{path}: already uploaded as upload 1 (same bytes), nothing ingested;")


def test_ingest_of_several_files_reports_each(ps: Cli, tmp_path: Path) -> None:
    monday = write_parquet(tmp_path / "mon.parquet", ZTO_ROWS[:6])
    tuesday = write_parquet(tmp_path / "tue.parquet", ZTO_ROWS[5:9])
    code, out, _ = ps("ingest", monday, tuesday, "--carrier", "ZTO")
    assert code == 0
    assert out.splitlines() == [
        f"{monday}: upload 1 ingested; rows read 6, accepted 6, rejected 0, duplicates 0",
        f"{tuesday}: upload 2 ingested; rows read 4, accepted 3, rejected 0, duplicates 1",
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(b"\x00\x01garbage", "neither Parquet nor CSV", id="not-a-table"),
        pytest.param(b"", "the file is empty", id="empty"),
        pytest.param("运单号,扫描类型\n1,发件\n".encode(), "missing column site_code", id="cols"),
    ],
)
def test_refused_file_exits_non_zero_with_one_line(
    ps: Cli, tmp_path: Path, exports: dict[str, Path], content: bytes, reason: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    code, out, err = ps("ingest", bad, exports["zto"], "--carrier", "ZTO")
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith(f"{bad}: refused: ")
    assert reason in err
    assert out.startswith(f"{exports['zto']}: upload 2 ingested;")  # the good file still goes in


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        pytest.param(["missing.parquet", "--carrier", "ZTO"], "no such file", id="no-such-file"),
        pytest.param(["{zto}", "--carrier", "UPS"], "unknown carrier 'UPS'", id="unknown-carrier"),
    ],
)
def test_ingest_refusals_before_reading(
    ps: Cli, exports: dict[str, Path], argv: list[str], reason: str
) -> None:
    code, out, err = ps("ingest", *(a.format(zto=exports["zto"]) for a in argv))
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert reason in err
    assert Store(ps.data).version() == 0


def test_ingest_json_output_stays_json_when_a_file_is_refused(
    ps: Cli, tmp_path: Path, exports: dict[str, Path]
) -> None:
    missing, bad = tmp_path / "nope.csv", tmp_path / "bad.bin"
    bad.write_bytes(b"\x00garbage")
    code, out, err = ps(
        "ingest", missing, bad, exports["zto"], "--carrier", "ZTO", "--format", "json"
    )
    assert code == 1
    assert out.count("\n") == 1  # one JSON object and nothing else on stdout
    assert [line.split(": refused: ")[0] for line in err.splitlines()] == [str(missing), str(bad)]
    files = json.loads(out)["files"]
    assert [(f["file"], f["status"]) for f in files] == [
        (str(missing), "refused"),
        (str(bad), "refused"),
        (str(exports["zto"]), "ingested"),
    ]
    assert "no such file" in files[0]["error"]
    assert (files[2]["rows_read"], files[2]["accepted"], files[2]["duplicate"]) == (11, 11, False)


def test_parcel_json(ps: Cli, exports: dict[str, Path]) -> None:
    ps("ingest", exports["zto"], "--carrier", "ZTO")
    code, out, _ = ps("parcel", "zto", "ZT7000000004", "--as-of", AS_OF, "--format", "json")
    assert code == 0
    info = json.loads(out)
    assert (info["carrier"], info["waybill_no"], info["status"], info["reason"]) == (
        "ZTO",
        "ZT7000000004",
        "ineligible",
        "late_hub_arrival",
    )
    assert (info["subsidy_fen"], info["subsidy_yuan"], info["month"]) == (0, "0.00", "2023-05")
    assert info["departure"]["scan_time"] == "2023-05-08T09:00:00+08:00"
    assert info["arrival"]["scan_time"] == "2023-05-17T09:00:00+08:00"
    assert [s["decides"] for s in info["scans"]] == [None, "departure", "arrival"]


def test_parcel_text_and_not_found(ps: Cli, exports: dict[str, Path]) -> None:
    ps("ingest", exports["zto"], "--carrier", "ZTO")
    code, out, _ = ps("parcel", "ZTO", "ZT7000000001", "--as-of", AS_OF)
    assert code == 0
    assert out.splitlines()[0] == "ZTO ZT7000000001: eligible, subsidy 0.20 yuan, month 2023-05"
    code, out, err = ps("parcel", "ZTO", "NOPE000001")
    assert (code, out) == (1, "")
    assert err.startswith("parcel-subsidy: no scans of parcel ZTO NOPE000001")


def test_report_text(ps: Cli, exports: dict[str, Path]) -> None:
    ps("ingest", exports["zto"], "--carrier", "ZTO")
    code, out, _ = ps("report", "--month", "2023-05", "--as-of", AS_OF)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Monthly subsidy report 2023-05 as of {AS_OF}"
    assert lines[2].split() == ["ZTO", "2", "20", "0.40", "0", "1", "1", "0"]
    assert lines[-1] == "program total: 0.40 yuan"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["report", "--month", "2023-13"], "not a month: '2023-13'", id="bad-month"),
        pytest.param(
            ["report", "--month", "2023-05", "--as-of", "soon"], "not an ISO 8601 time", id="as-of"
        ),
    ],
)
def test_usage_errors_exit_2(ps: Cli, argv: list[str], message: str) -> None:
    code, out, err = ps(*argv)
    assert (code, out) == (2, "")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["report", "--month", "2023-05"], id="report"),
        pytest.param(["ingest", "z.parquet", "--carrier", "ZTO"], id="ingest"),
        pytest.param(["sites", "import", "s.csv"], id="sites"),
        pytest.param(["parcel", "ZTO", "ZT7000000001"], id="parcel"),
    ],
)
def test_more_than_one_data_dir_is_for_spark_report_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    """SPEC §13: every command but spark-report given two --data-dir exits 2 with one line,
    touching neither folder."""
    a, b = tmp_path / "a", tmp_path / "b"
    code, out, err = run(capsys, "--data-dir", a, "--data-dir", b, *command)
    assert (code, out) == (2, "")
    assert err == (
        f"parcel-subsidy: {command[0]} takes one --data-dir, 2 were given "
        "(only spark-report takes several)\n"
    )
    assert not a.exists() and not b.exists()


def test_spark_report_without_pyspark_says_how_to_install_it(
    ps: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("pyspark", "pyspark.errors", "pyspark.sql"):  # import ... raises ImportError,
        monkeypatch.setitem(sys.modules, name, None)  # even after the Spark tests imported them
    code, out, err = ps("spark-report", "--month", "2023-05", "--format", "json")
    assert (code, out) == (2, "")
    assert "pip install 'parcel-subsidy[spark]'" in err
    assert err.count("\n") == 1


def test_policy_override(ps: Cli, tmp_path: Path) -> None:
    cheap = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace("rate_fen = 20", "rate_fen = 5")
    (tmp_path / "cheap.toml").write_text(cheap, encoding="utf-8")
    ps("ingest", write_parquet(tmp_path / "z.parquet", ZTO_ROWS), "--carrier", "ZTO")
    may = ("report", "--month", "2023-05", "--as-of", AS_OF, "--format", "json")
    code, out, _ = ps("--policy", tmp_path / "cheap.toml", *may)
    assert code == 0
    assert json.loads(out)["totals"]["subsidy_fen"] == 10

    (tmp_path / "greedy.toml").write_text(cheap.replace("rate_fen = 5", "rate_fen = 50"))
    code, out, err = ps("--policy", tmp_path / "greedy.toml", "report", "--month", "2023-05")
    assert (code, out) == (2, "")
    assert "rate 50 fen from 2021-08-30 is above the cap of 20 fen" in err


def test_data_dir_defaults_to_the_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    exports: dict[str, Path],
) -> None:
    env_dir = tmp_path / "from-env"
    monkeypatch.setenv("PARCEL_SUBSIDY_DATA_DIR", str(env_dir))
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(capsys, "ingest", exports["zto"], "--carrier", "ZTO")
    assert code == 0
    assert Store(env_dir).version() == 1
    assert not (tmp_path / "data").exists()


def test_data_dir_falls_back_to_dot_data(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    exports: dict[str, Path],
) -> None:
    monkeypatch.delenv("PARCEL_SUBSIDY_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "ingest", exports["zto"], "--carrier", "ZTO")[0] == 0
    assert Store(tmp_path / "data").version() == 1


@pytest.mark.parametrize("command", [[], ["ingest"], ["report"], ["parcel"], ["sites", "import"]])
def test_help(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: parcel-subsidy")
    if not command:
        for word in ("sites", "ingest", "report", "parcel", "PARCEL_SUBSIDY_DATA_DIR", "fen"):
            assert word in out


def test_help_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "parcel-subsidy --data-dir data ingest" in done.stdout


# -- a real process killed mid-ingest ------------------------------------------------------


def cli_process(*argv: object, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m cli ARGV`` as a child process, killed with ``os._exit`` at ``crash_at``
    (through ``tests.killed_cli``, which injects the kill into ``cli.main``)."""
    runner = ["-m", "tests.killed_cli", crash_at] if crash_at else ["-m", "cli"]
    return subprocess.run(
        [sys.executable, *runner, *(str(a) for a in argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def monday_only(root: Path, tmp_path: Path) -> Store:
    """Sites imported and Monday's export ingested, in-process (the fast part)."""
    sites = write_sites_csv(tmp_path / f"{root.name}-sites.csv")
    assert cli.main(["--data-dir", str(root), "sites", "import", str(sites)]) == 0
    monday = write_parquet(tmp_path / "monday.parquet", ZTO_ROWS[:6])
    assert cli.main(["--data-dir", str(root), "ingest", str(monday), "--carrier", "ZTO"]) == 0
    return Store(root)


@pytest.mark.parametrize("step", ["files_written", "before_commit", "committed"])
def test_killed_ingest_then_retry_equals_a_clean_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], step: str
) -> None:
    assert step in STEPS
    as_of = cst(2023, 6, 10)
    tuesday = write_parquet(tmp_path / "tuesday.parquet", ZTO_ROWS[5:])
    before_tuesday = monday_only(tmp_path / "monday", tmp_path)
    clean = monday_only(tmp_path / "clean", tmp_path)
    add_tuesday = ["ingest", str(tuesday), "--carrier", "ZTO"]
    assert cli.main(["--data-dir", str(clean.root), *add_tuesday]) == 0
    crashed = monday_only(tmp_path / "crashed", tmp_path)
    capsys.readouterr()

    ingest = ("--data-dir", crashed.root, "ingest", tuesday, "--carrier", "ZTO")
    died = cli_process(*ingest, crash_at=step)
    assert (died.returncode, died.stdout) == (75, ""), died.stderr

    # the dead process left the upload wholly in (after the commit) or not at all (before)
    wholly_in = step == "committed"
    like = clean if wholly_in else before_tuesday
    state, expected = store_state(crashed), store_state(like)
    if not wholly_in:  # the dead process left unlisted debris, removed by the next ingest
        assert set(state.pop("files")) > set(expected.pop("files"))
    assert state == expected
    assert report(crashed, "2023-05", as_of) == report(like, "2023-05", as_of)

    retry = cli_process(*ingest)
    assert retry.returncode == 0, retry.stderr
    assert ("already uploaded" in retry.stdout) is wholly_in
    assert store_state(crashed) == store_state(clean)
    may = ("report", "--month", "2023-05", "--as-of", AS_OF, "--format", "json")
    shown = cli_process("--data-dir", crashed.root, *may)
    # the CLI serves what finance is served: the report with its (here empty) adjustments
    served = served_report(clean, load_policy(), "2023-05", as_of).model_dump(mode="json")
    assert json.loads(shown.stdout) == served
    assert served["carriers"] == report(clean, "2023-05", as_of)["carriers"]


@pytest.mark.parametrize("data_dir", ["/proc/no-such-folder", "/etc/hostname"])
def test_an_unusable_data_dir_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], data_dir: str
) -> None:
    """A command that would create the store, on a folder that cannot hold one."""
    assert cli.main(["--data-dir", data_dir, "tokens", "create", "--role", "admin"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"parcel-subsidy: cannot use {data_dir} as the data folder")
    assert err.count("\n") == 1


class _Bar:
    """Records what a progress bar is told."""

    def __init__(self) -> None:
        self.done, self.steps, self.closed = 0, [], False

    def update(self, n: int) -> None:
        self.done += n

    def set_description(self, text: str) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        self.steps.append(text)

    def close(self) -> None:
        self.closed = True


def test_ingest_progress_counts_bytes_through_each_files_steps(tmp_path: Path) -> None:
    """A big file's bar moves at each step of its ingest; a refused or duplicate file (that
    reaches no step) still counts as done when the next one starts; it ends at the total."""
    big, small = tmp_path / "big.parquet", tmp_path / "small.parquet"
    big.write_bytes(b"x" * 1000)
    small.write_bytes(b"y" * 200)
    bar = _Bar()
    progress = cli.IngestProgress([str(big), str(small), str(tmp_path / "missing")], bar=bar)
    progress.start(str(big))
    seen = []
    for step in STEPS:
        progress(step)
        seen.append(bar.done)
    assert seen == [100, 550, 900, 900, 1000]  # registered .. committed, by share of 1000 bytes
    progress.start(str(small))  # refused before any step
    progress.start(str(tmp_path / "missing"))
    assert bar.done == 1200
    progress.close()
    assert (bar.done, bar.closed) == (1200, True)


@pytest.mark.parametrize(
    ("argv", "env", "words"),
    [
        pytest.param(["serve", "--ingest-every", "0"], {}, "ingest_every", id="flag-zero"),
        pytest.param(["serve", "--ingest-every", "nan"], {}, "ingest_every", id="flag-nan"),
        pytest.param(
            ["report", "--month", "2023-05"],
            {"PARCEL_SUBSIDY_INGEST_EVERY": "soon"},
            "ingest_every",
            id="env-not-a-number",
        ),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    words: str,
) -> None:
    """Settings are built once from flags and environment, and a bad one stops the start."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["--data-dir", str(tmp_path / "d"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_the_data_dir_comes_from_the_environment_when_no_flag_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARCEL_SUBSIDY_DATA_DIR", str(tmp_path / "from-env"))
    sites = write_sites_csv(tmp_path / "sites.csv")
    assert cli.main(["sites", "import", str(sites)]) == 0
    assert (tmp_path / "from-env" / "parcel_subsidy.sqlite").is_file()


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["report", "--month", "2023-05", "--format", "json"], id="report"),
        pytest.param(["parcel", "ZTO", "ZT7000000001", "--format", "json"], id="parcel"),
        pytest.param(["tokens", "list"], id="tokens-list"),
        pytest.param(["tokens", "revoke", "1"], id="tokens-revoke"),
    ],
)
@pytest.mark.parametrize("exists", [False, True], ids=["no-folder", "empty-folder"])
def test_reading_commands_refuse_a_folder_without_a_store_and_create_none(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str], exists: bool
) -> None:
    """A mistyped --data-dir gives exit 2 and one line, not a plausible all-zero report, and
    the folder is left as it was."""
    data = tmp_path / "mistyped"
    if exists:
        data.mkdir()
    code, out, err = run(capsys, "--data-dir", data, *command)
    assert (code, out) == (2, "")
    assert err == (
        f"parcel-subsidy: {data} holds no store (no parcel_subsidy.sqlite); check --data-dir, "
        "or create one with 'sites import', 'ingest' or 'demo'\n"
    )
    assert (list(data.iterdir()) == []) if exists else not data.exists()


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["tokens", "create", "--role", "admin"], id="tokens-create"),
        pytest.param(["ingest", "missing.parquet", "--carrier", "ZTO"], id="ingest"),
    ],
)
def test_writing_commands_still_create_the_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "fresh"
    run(capsys, "--data-dir", data, *command)
    assert (data / "parcel_subsidy.sqlite").is_file()


NON_ASCII = {
    "full-width": str.maketrans("0123456789", "０１２３４５６７８９"),
    "arabic-indic": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
}


@pytest.mark.parametrize("digits", NON_ASCII.values(), ids=NON_ASCII.keys())
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        pytest.param(["report", "--month", "{2023-05}"], "not a month", id="report-month"),
        pytest.param(
            ["report", "--month", "2023-05", "--as-of", "{2023-06-10}"],
            "not an ISO 8601 time",
            id="report-as-of",
        ),
        pytest.param(
            ["parcel", "ZTO", "ZT7000000001", "--as-of", "{2023-06-10}"],
            "not an ISO 8601 time",
            id="parcel-as-of",
        ),
    ],
)
def test_months_and_as_of_in_other_digits_exit_2(
    ps: Cli, argv: list[str], words: str, digits: dict[int, str]
) -> None:
    """``--month ２０２３-05`` is no month: exit 2 with one line naming it."""
    given = [a[1:-1].translate(digits) if a.startswith("{") else a for a in argv]
    code, out, err = ps(*given)
    assert (code, out) == (2, "")
    assert words in err and "ASCII digits" in err
    assert err.count("\n") == 1
