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
        raise SiteRegistryError(f"cannot read the sites registry {path.name}: {exc}") from None
    names = [c.strip().lstrip("\ufeff").lower() for c in df.columns]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise SiteRegistryError(
            f"sites registry: column {', '.join(doubled)} appears twice; keep one"
        )
    df = df.rename(dict(zip(df.columns, names, strict=True)))
    missing = [c for c in REGISTRY_COLUMNS if c not in df.columns and c != "active_to"]
    if missing:
        raise SiteRegistryError(
            f"sites registry: missing column {', '.join(missing)}; "
            f"expected {','.join(REGISTRY_COLUMNS)}; found {','.join(df.columns)}"
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


def _name_problems(parsed: pl.DataFrame) -> list[str]:
    """A name or alias that would name two sites, or that is another site's code (SPEC §3a)."""
    codes = set(parsed["site_code"].drop_nulls())
    owners: dict[str, set[str]] = {}
    lines: dict[str, int] = {}
    for line, code, name, aliases in parsed.select(
        "line", "site_code", "name", "aliases"
    ).iter_rows():
        for word in {name, *aliases} - {None}:
            owners.setdefault(word, set()).add(code)
            lines.setdefault(word, line)
    problems = []
    for word, sites in owners.items():
        if len(sites) > 1:
            problems.append(
                f"line {lines[word]}: the name or alias {word!r} names "
                f"{len(sites)} sites ({', '.join(sorted(map(str, sites)))})"
            )
        elif word in codes and word not in sites:
            problems.append(
                f"line {lines[word]}: the name or alias {word!r} is the code of another site"
            )
    return problems


def parse_registry(path: Path) -> pl.DataFrame:
    """Read and validate a registry file (CSV or Parquet); every problem is listed at once."""
    df = _read_registry_file(path).with_row_index("line", offset=2)
    parsed = df.with_columns(
        pl.col("active_from").str.to_date("%Y-%m-%d", strict=False).alias("_from"),
        pl.col("active_to").str.to_date("%Y-%m-%d", strict=False).alias("_to"),
    )
    problems: list[str] = []
    checks = {
        "site_code is empty": pl.col("site_code").is_null(),
        "name is empty": pl.col("name").is_null(),
        f"kind is not one of {', '.join(SITE_KINDS)}": ~pl.col("kind")
        .fill_null("")
        .is_in(SITE_KINDS),
        "active_from is not a date YYYY-MM-DD": pl.col("_from").is_null(),
        "active_to is not a date YYYY-MM-DD": pl.col("active_to").is_not_null()
        & pl.col("_to").is_null(),
        "active_to is before active_from": pl.col("_to") < pl.col("_from"),
        "site_code appears twice": pl.col("site_code").is_duplicated()
        & pl.col("site_code").is_not_null(),
    }
    for message, cond in checks.items():
        bad = parsed.filter(cond.fill_null(False))
        for line, code in bad.select("line", "site_code").head(5).iter_rows():
            problems.append(f"line {line} ({code or '?'}): {message}")
    problems += _name_problems(parsed)
    if problems:
        raise SiteRegistryError(
            "sites registry refused, nothing changed: " + "; ".join(problems[:20])
        )
    if parsed.height == 0:
        raise SiteRegistryError("sites registry refused: the file has no sites")
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
