"""The sites registry (SPEC §4): which site is the district center, which are village hubs.

A scan counts for a site's kind only on Asia/Shanghai dates inside the site's active interval
(``active_from``..``active_to``, both inclusive; an empty ``active_to`` means still active).
Codes not in the registry are ``other``. Importing a registry file replaces the whole registry
in one transaction and writes the change to the audit log.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl

from core.store import Store
from core.timeutil import DATE_PATTERN
from subsidy.exceptions import SiteRegistryError

SITE_KINDS: tuple[str, ...] = ("district_center", "village_hub", "other")
SiteKind = pl.Enum(SITE_KINDS)
REGISTRY_COLUMNS: tuple[str, ...] = (
    "site_code",
    "name",
    "kind",
    "town",
    "active_from",
    "active_to",
)

#: The registry as the rule reads it.
SITES_SCHEMA = pl.Schema(
    {
        "site_code": pl.String(),
        "name": pl.String(),
        "kind": SiteKind,
        "town": pl.String(),
        "active_from": pl.Date(),
        "active_to": pl.Date(),
    }
)


def _read_registry_file(path: Path) -> pl.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            df = pl.read_parquet(path)
            df = df.with_columns(pl.all().cast(pl.String))
        else:
            df = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except Exception as exc:
        raise SiteRegistryError(
            f"cannot read the sites registry {path.name}: {exc}",
            code="registry_unreadable",
            file=path.name,
            reason=str(exc),
        ) from None
    names = {c: c.strip().lstrip("\ufeff").lower() for c in df.columns}
    twice = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
    if twice:  # " Site_Code" and "site_code" are one column: refuse, never a 500
        raise SiteRegistryError(
            f"sites registry: column {', '.join(twice)} appears twice",
            code="registry_column_twice",
            columns=", ".join(twice),
        )
    df = df.rename(names)
    missing = [c for c in REGISTRY_COLUMNS if c not in df.columns and c != "active_to"]
    if missing:
        raise SiteRegistryError(
            f"sites registry: missing column {', '.join(missing)}; "
            f"expected {','.join(REGISTRY_COLUMNS)}; found {','.join(df.columns)}",
            code="registry_missing_columns",
            missing=missing,
            expected=list(REGISTRY_COLUMNS),
            found=list(df.columns),
        )
    if "active_to" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("active_to"))
    if "aliases" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("aliases"))
    return df.select(
        *(pl.col(c).str.strip_chars().replace("", None) for c in REGISTRY_COLUMNS),
        pl.col("aliases")
        .fill_null("")
        .str.split("|")
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != ""))
        .alias("aliases"),
    )


#: The checks of names and aliases (SPEC §3a): what each says, by its code.
NAME_CHECKS = {
    "alias_names_two_sites": "a name or alias names more than one site",
    "alias_is_other_code": "a name or alias is the code of another site",
}


def _name_problems(parsed: pl.DataFrame) -> list[dict[str, object]]:
    """A name or alias that would name two sites, or that is another site's code (SPEC §3a);
    each problem names its line and the word (``site_code`` of the problem)."""
    codes = set(parsed["site_code"].drop_nulls())
    owners: dict[str, set[str]] = {}
    lines: dict[str, int] = {}
    for line, code, name, aliases in parsed.select(
        "line", "site_code", "name", "aliases"
    ).iter_rows():
        for word in {name, *aliases} - {None}:
            owners.setdefault(word, set()).add(code)
            lines.setdefault(word, line)
    problems: list[dict[str, object]] = []
    for word, sites in owners.items():
        if len(sites) > 1:
            problems.append(
                {"line": lines[word], "site_code": word, "check": "alias_names_two_sites"}
            )
        elif word in codes and word not in sites:
            problems.append(
                {"line": lines[word], "site_code": word, "check": "alias_is_other_code"}
            )
    return problems


def _date_of(column: str) -> pl.Expr:
    """The column's dates; null for text that is not :data:`core.timeutil.DATE_PATTERN`
    (ASCII digits, a real day: the one grammar of dates given by users)."""
    text = pl.col(column)
    return pl.when(text.str.contains(DATE_PATTERN)).then(text.str.to_date("%Y-%m-%d", strict=False))


def parse_registry(path: Path) -> pl.DataFrame:
    """Read and validate a registry file (CSV or Parquet); every problem is listed at once."""
    df = _read_registry_file(path).with_row_index("line", offset=2)
    parsed = df.with_columns(
        _date_of("active_from").alias("_from"), _date_of("active_to").alias("_to")
    )
    problems: list[dict[str, object]] = []
    # check code -> (what is wrong, the rows it is wrong for)
    checks = {
        "site_code_empty": ("site_code is empty", pl.col("site_code").is_null()),
        "name_empty": ("name is empty", pl.col("name").is_null()),
        "control_character": (
            "site_code, name or town holds a control character",
            pl.any_horizontal(
                pl.col(c).str.contains(r"[\x00-\x1f\x7f]") for c in ("site_code", "name", "town")
            ),
        ),
        "bad_kind": (
            f"kind is not one of {', '.join(SITE_KINDS)}",
            ~pl.col("kind").fill_null("").is_in(SITE_KINDS),
        ),
        "bad_active_from": ("active_from is not a date YYYY-MM-DD", pl.col("_from").is_null()),
        "bad_active_to": (
            "active_to is not a date YYYY-MM-DD",
            pl.col("active_to").is_not_null() & pl.col("_to").is_null(),
        ),
        "active_to_before_from": (
            "active_to is before active_from",
            pl.col("_to") < pl.col("_from"),
        ),
        "duplicate_site_code": (
            "site_code appears twice",
            pl.col("site_code").is_duplicated() & pl.col("site_code").is_not_null(),
        ),
    }
    messages = {check: message for check, (message, _) in checks.items()}
    for check, (_, cond) in checks.items():
        bad = parsed.filter(cond.fill_null(False))
        for line, code in bad.select("line", "site_code").head(5).iter_rows():
            problems.append({"line": line, "site_code": code or "?", "check": check})
    problems += _name_problems(parsed)
    messages.update(NAME_CHECKS)
    if problems:
        shown = problems[:20]
        raise SiteRegistryError(
            "sites registry refused, nothing changed: "
            + "; ".join(
                f"line {p['line']} ({p['site_code']}): {messages[str(p['check'])]}" for p in shown
            ),
            code="registry_refused",
            problems=shown,
        )
    if parsed.height == 0:
        raise SiteRegistryError(
            "sites registry refused: the file has no sites", code="registry_empty"
        )
    return parsed.select(
        "site_code",
        "name",
        pl.col("kind").cast(SiteKind),
        "town",
        pl.col("_from").alias("active_from"),
        pl.col("_to").alias("active_to"),
        "aliases",
    )


def _date_text(value: date | None) -> str | None:
    return value.isoformat() if value else None


def replace_sites(store: Store, sites: pl.DataFrame, *, actor: str) -> dict[str, int]:
    """Replace the registry with ``sites`` (validated) in one audited transaction."""
    before = load_sites(store)
    # sorted by kind (enum order), so the answer and the audit line never vary between runs
    counts = dict(sites.group_by("kind").len().sort("kind").cast({"kind": pl.String}).iter_rows())
    if "aliases" not in sites.columns:
        sites = sites.with_columns(pl.lit([], pl.List(pl.String)).alias("aliases"))
    rows = [
        (
            code,
            name,
            kind,
            town,
            _date_text(a_from),
            _date_text(a_to),
            json.dumps(list(aliases or []), ensure_ascii=False),
        )
        for code, name, kind, town, a_from, a_to, aliases in sites.select(
            *REGISTRY_COLUMNS, "aliases"
        ).iter_rows()
    ]
    with store.transaction() as db:
        db.execute("DELETE FROM sites")
        db.executemany(
            f"INSERT INTO sites ({', '.join(REGISTRY_COLUMNS)}, aliases) VALUES (?,?,?,?,?,?,?)",
            rows,
        )
        store.audit(
            db,
            actor,
            "sites.replaced",
            "sites",
            old={"sites": before.height},
            new={
                "sites": len(rows),
                "by_kind": counts,
            },
        )
    return {"sites": len(rows), **counts}


def import_sites(store: Store, path: Path, *, actor: str = "cli") -> dict[str, int]:
    """Validate a registry file and replace the stored registry with it."""
    return replace_sites(store, parse_registry(path), actor=actor)


def site_aliases(store: Store) -> dict[str, list[str]]:
    """Each site's aliases (SPEC §3a), by code."""
    with store.connect() as db:
        rows = db.execute("SELECT site_code, aliases FROM sites").fetchall()
    return {code: json.loads(aliases or "[]") for code, aliases in rows}


def load_sites(store: Store) -> pl.DataFrame:
    """The stored registry as a frame of :data:`SITES_SCHEMA`."""
    with store.connect() as db:
        rows = db.execute(
            f"SELECT {', '.join(REGISTRY_COLUMNS)} FROM sites ORDER BY site_code"
        ).fetchall()
    return pl.DataFrame(
        [tuple(r) for r in rows], schema=dict.fromkeys(REGISTRY_COLUMNS, pl.String), orient="row"
    ).with_columns(
        pl.col("kind").cast(SiteKind),
        pl.col("active_from").str.to_date("%Y-%m-%d"),
        pl.col("active_to").str.to_date("%Y-%m-%d"),
    )
