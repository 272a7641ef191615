"""What an upload's rejected rows say (SPEC §3a): counts, examples and the words not known,
and the refusal of a file that is mostly rejected.

Both the real ingest (which refuses such a file whole, storing nothing) and the preview
(``ingest --check``, ``POST /v1/uploads?dry_run=true``) use it, so a preview's ``refusal`` is
the sentence a real upload would get.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from ingest.schema import REJECT_REASONS
from ingest.validate import REJECT_COLUMNS, carrier_lookup

#: Examples kept per reason (the preview shows them; the refusal quotes a few).
EXAMPLES = 20
#: The column whose values tell why rows of a reason were rejected, counted value by value.
_TELLING = {
    "unknown_scan_type": "scan_type",
    "carrier_mismatch": "carrier",
    "unknown_carrier": "carrier",
}
_WORDS = {
    "missing_field": "miss a required value",
    "bad_waybill": "have waybills that are not 6-40 letters, digits or '-'",
    "bad_scan_time": "have scan times that cannot be read",
    "implausible_scan_time": "have scan times before 2020-01-01 or more than a day ahead",
}
_EXAMPLE_COLUMN = {
    "missing_field": "waybill_no",
    "bad_waybill": "waybill_no",
    "bad_scan_time": "scan_time",
    "implausible_scan_time": "scan_time",
}


@dataclass
class Judgement:
    """The rejected rows of one upload, summed up."""

    rows_read: int
    by_reason: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    values: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(self.by_reason.values())

    def unmatched_words(self) -> dict[str, int]:
        """Scan-type words not known, with the rows each cost, most first."""
        return dict(self.values.get("unknown_scan_type", Counter()).most_common())

    def rejected_detail(self) -> dict[str, dict[str, Any]]:
        """``{reason: {"count", "examples"}}`` in the order of the reasons' table."""
        return {
            r: {"count": self.by_reason[r], "examples": self.examples.get(r, [])}
            for r in REJECT_REASONS
            if self.by_reason[r]
        }


def judge(rows_read: int, rejects: Iterable[pa.Table]) -> Judgement:
    """Sum up reject tables (columns of :data:`ingest.validate.REJECT_COLUMNS`)."""
    out = Judgement(rows_read)
    for table in rejects:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        for (reason,), part in frame.group_by("reason", maintain_order=True):
            name = str(reason)
            out.by_reason[name] += part.height
            kept = out.examples.setdefault(name, [])
            if len(kept) < EXAMPLES:
                kept += part.head(EXAMPLES - len(kept)).select(REJECT_COLUMNS).to_dicts()
            column = _TELLING.get(name)
            if column is not None:
                counts = out.values.setdefault(name, Counter())
                for value, n in part[column].fill_null("").value_counts().iter_rows():
                    counts[str(value)] += int(n)
    return out


def _listed(counts: Counter[str], top: int = 5) -> str:
    return ", ".join(f"{value or '(empty)'} ({n:,})" for value, n in counts.most_common(top))


def refusal_params(judged: Judgement, share: float, carriers: dict[str, str]) -> dict[str, Any]:
    """What the refusal of a mostly-rejected file is made of, for wording it in another
    language and for the scan words it did not know: ``rows_read``, ``rejected_rows``,
    ``share`` (percent), ``reasons`` (the main three: ``reason``, ``count``, ``values``: the
    values that tell why, most first) and ``unmatched_words`` (``{word: rows}``, all of them)."""
    lookup = carrier_lookup(carriers)
    reasons = []
    for reason, count in judged.by_reason.most_common(3):
        values = judged.values.get(reason, Counter())
        if reason == "carrier_mismatch":
            values = _named_carriers(values, lookup)
        elif reason in _EXAMPLE_COLUMN:
            column = _EXAMPLE_COLUMN[reason]
            values = Counter(str(e[column]) for e in judged.examples.get(reason, [])[:3])
        reasons.append({"reason": reason, "count": count, "values": _listed(values)})
    return {
        "rows_read": judged.rows_read,
        "rejected_rows": judged.rejected,
        "share": round(share * 100),
        "reasons": reasons,
        "unmatched_words": judged.unmatched_words(),
    }


def _named_carriers(values: Counter[str], lookup: dict[str, str]) -> Counter[str]:
    """The carrier values of mismatched rows counted by the carrier code they name."""
    named: Counter[str] = Counter()
    for value, n in values.items():
        named[lookup.get(value.strip().upper(), value.strip())] += n
    return named


def refusal(judged: Judgement, share: float, carriers: dict[str, str]) -> str | None:
    """The refusal of a file of which more than ``share`` of the rows would be rejected,
    naming the main reasons with counts and example values; ``None`` when it may be stored."""
    rows, rejected = judged.rows_read, judged.rejected
    if rows == 0 or rejected <= share * rows:
        return None
    lookup = carrier_lookup(carriers)
    parts: list[str] = []
    for reason, count in judged.by_reason.most_common(3):
        values = judged.values.get(reason, Counter())
        if reason == "carrier_mismatch":
            for carrier, n in _named_carriers(values, lookup).most_common(2):
                parts.append(
                    f"{n:,} of {rows:,} rows name carrier {carrier}; is this {carrier}'s export?"
                )
        elif reason == "unknown_scan_type":
            parts.append(f"{count:,} rows have scan types not known: {_listed(values)}")
        elif reason == "unknown_carrier":
            parts.append(f"{count:,} rows name carriers not known: {_listed(values)}")
        else:
            column = _EXAMPLE_COLUMN[reason]
            seen = [str(e[column]) for e in judged.examples.get(reason, [])[:3]]
            example = f" (e.g. {', '.join(repr(v) for v in seen)})" if seen else ""
            parts.append(f"{count:,} rows {_WORDS[reason]}{example}")
    return (
        f"{rejected:,} of {rows:,} rows would be rejected (more than {share:.0%}), so nothing "
        f"was stored: {'; '.join(parts)}"
    )
