"""The monthly report of many districts on Apache Spark (SPEC §13), with the rule written once.

What Spark is handed, per district, is a **file list of one store version**: the event files
the store's manifest (``event_files`` in SQLite) lists for that version, nothing retired and
nothing uncommitted. For an open month the version is the current one and ``as_of`` the one
asked; for a closed month it is the version the close pinned (``closed_months.store_version``)
and the close's own ``as_of``, so Spark recomputes the frozen figures. A file list keeps each
upload's commit what it is today, one SQLite ``COMMIT`` (no second commit point to keep in
step), and any engine reads it: the files are plain Parquet. See ``docs/spark.md``.

The job::

    read each district's files  ->  keep scans with scan_time <= that district's as_of
      (5 columns the rule reads, tagged with the district's index); of the months before the
      first one the report needs, departures only (see :func:`snapshot`)
    repartition by a hash of (district, carrier, waybill_no): a parcel's events meet in one
      partition
    mapInArrow: take ALL of the partition's Arrow batches, then run subsidy.rule.parcel_statuses
      once per district present (its own policy, sites and as_of) and count per (month,
      carrier) with subsidy.counts.counts_of; never once per parcel
    group by (district, month, carrier) and sum  ->  per district, a frame of COUNTS_SCHEMA

Those counts go to :func:`subsidy.report.report_from_counts`, the same assembly ``report``
uses (awards, prior-period adjustments, totals), so only the carrier figures come from Spark.

PySpark is optional (the ``spark`` extra): it is imported only when a session is made, so the
rest of the product never needs it.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from core.events import ScanType
from core.policy import Policy
from core.store import Store
from core.timeutil import TZ_NAME, month_bounds, to_local
from subsidy.closed import adjustment_sources, closed_months
from subsidy.counts import COUNT_COLUMNS, COUNTS_SCHEMA, counts_of
from subsidy.exceptions import InvalidValueError, SparkUnavailableError
from subsidy.models import ClosedMonth, MonthlyReport
from subsidy.report import report_from_counts
from subsidy.rule import parcel_statuses
from subsidy.sites import load_sites

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Events a partition holds, at most on average: the rule takes a partition in memory at once
#: (as ``subsidy.counts.SHARD_EVENTS`` does on one machine), so this bounds an executor's
#: Python memory (about 0.5 GiB per million events, in Polars and Arrow copies).
PARTITION_EVENTS = 2_000_000

#: The columns of an event the rule reads; the others never leave the Parquet reader.
RULE_COLUMNS = ("carrier", "waybill_no", "scan_type", "site_code", "scan_time")

#: Spark's reading schema of an event file (the store's ``FILE_SCHEMA``, rule columns only).
SPARK_EVENTS = (
    "carrier string, waybill_no string, scan_type string, site_code string, scan_time timestamp"
)

#: What each partition answers: per (district, month, carrier) the counts of COUNTS_SCHEMA;
#: one row per district with null month and carrier carries ``events``, the rows it read.
PARTIAL_SCHEMA = pl.Schema(
    {
        "district": pl.Int32(),
        "month": pl.String(),
        "carrier": pl.String(),
        "events": pl.Int64(),
        **dict.fromkeys(COUNT_COLUMNS, pl.Int64()),
    }
)
#: The same as Arrow (``string``, not Polars' ``string_view``) and as Spark DDL.
PARTIAL_ARROW = pa.schema(
    [
        ("district", pa.int32()),
        ("month", pa.string()),
        ("carrier", pa.string()),
        *((name, pa.int64()) for name in ("events", *COUNT_COLUMNS)),
    ]
)
PARTIAL_DDL = "district int, month string, carrier string, " + ", ".join(
    f"{name} long" for name in ("events", *COUNT_COLUMNS)
)


@dataclass(frozen=True)
class Snapshot:
    """What Spark reads of one district for one month's report, and how."""

    store: Store
    policy: Policy
    month: str
    version: int
    as_of: datetime
    #: URIs of exactly the event files of ``version`` (manifest order), see :func:`events_base`.
    files: tuple[str, ...]
    #: Rows the manifest lists for those files (each event once).
    events: int
    #: The freeze record when the month is closed (then ``version`` and ``as_of`` are its).
    closed: ClosedMonth | None
    #: The first month whose figures are wanted (the month, or the oldest closed month whose
    #: adjustment it reports); ``None``: every month. Files of earlier months are read for
    #: their departures only (see :func:`snapshot`).
    from_month: str | None = None
    #: The files of months before ``from_month`` (a subset of ``files``).
    departs_only: tuple[str, ...] = ()


@dataclass(frozen=True)
class DistrictCounts:
    """Spark's answer for one district: per (month, carrier) counts, and rows it read."""

    counts: pl.DataFrame
    events_read: int


#: A file in the store folder whose first line is the base URI of the store's event files on
#: the cluster (``hdfs://nameservice/province/jiyang``, ``s3a://subsidy/jiyang``): the
#: manifest's relative paths (``events/carrier=ZTO/month=2023-05/u00000042.parquet``) are
#: resolved against it. Without it, the local folder (``file://``).
EVENTS_URI_FILE = "spark-events-uri"


def events_base(store: Store) -> str:
    """Where Spark finds this store's event files (see :data:`EVENTS_URI_FILE`)."""
    marker = store.root / EVENTS_URI_FILE
    if marker.is_file():
        lines = marker.read_text(encoding="utf-8").split()
        if lines:
            return lines[0].rstrip("/")
    # Hadoop paths, not RFC 8089 URIs: Spark would not decode as_uri()'s "carrier%3DZTO"
    return f"file://{store.root.resolve()}"


def _file_month(relative: Path) -> str | None:
    """The month of an event file's partition folder (``month=2023-05``), if it names one."""
    name = relative.parent.name
    return name.removeprefix("month=") if name.startswith("month=") else None


def snapshot(store: Store, policy: Policy, month: str, as_of: datetime) -> Snapshot:
    """The store version and ``as_of`` a report of ``month`` is computed at, with its files.

    An open month: the current store version, ``as_of`` as asked. A closed month: the version
    and ``as_of`` of its close; refused (:class:`InvalidValueError`) when the policy in force
    is not the one the month was closed with, since the figures could not be the frozen ones.

    Only the figures of ``from_month`` on are wanted: the month, and for an open month the run
    of closed months before it whose changes it reports. A parcel counts in the month of its
    ``D``, and its ``A`` is later than ``D``; so of the files of earlier months (each file holds
    the scans of one Asia/Shanghai month) only departures can matter, for a parcel whose earlier
    departure makes its ``D`` (and its month) earlier. Those are read, the rest is not.
    """
    month_bounds(month)  # validates the text
    closes = closed_months(store)
    closed = next((c for c in closes if c.month == month), None)
    if closed is None:
        version, at = store.version(), to_local(as_of)
        from_month = min([month, *adjustment_sources({c.month for c in closes}, month)])
    else:
        if closed.policy_digest != policy.digest:
            raise InvalidValueError(
                f"month {month} was closed with another policy file (digest "
                f"{closed.policy_digest[:12]}, now {policy.digest[:12]}); run spark-report "
                "with the policy it was closed with to recompute its frozen figures",
                code="policy_changed_since_close",
                month=month,
            )
        version, at = closed.store_version, datetime.fromisoformat(closed.as_of)
        from_month = month
    base = events_base(store)
    relative = [p.relative_to(store.root) for p in store.event_files(version=version)]
    files = tuple(f"{base}/{rel.as_posix()}" for rel in relative)
    early = tuple(
        uri
        for uri, rel in zip(files, relative, strict=True)
        if (file_month := _file_month(rel)) is not None and file_month < from_month
    )
    events = sum(store.carrier_rows(version=version).values())
    return Snapshot(store, policy, month, version, at, files, events, closed, from_month, early)


def spark_session(master: str | None = None) -> SparkSession:
    """The active Spark session, or a new one (``master`` if given, else Spark's own default:
    the one ``spark-submit`` was given, then ``local[*]``).

    Raises :class:`SparkUnavailableError` when PySpark or Java is missing.
    """
    try:
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(
            "spark-report needs PySpark: install the 'spark' extra "
            "(pip install 'parcel-subsidy[spark]') and Java 17 or later",
            code="spark_missing",
        ) from None
    launched_here = "PYSPARK_GATEWAY_PORT" not in os.environ  # not under spark-submit
    if launched_here and (master is None or master.startswith("local")):
        # Python workers on this machine run this interpreter (its packages: polars, the rule)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("parcel-subsidy spark-report")
    if master is not None:
        builder = builder.master(master)
    builder = builder.config("spark.sql.session.timeZone", "UTC").config(
        "spark.ui.showConsoleProgress", "false"
    )
    try:
        spark = builder.getOrCreate()
    except PySparkException as exc:
        raise SparkUnavailableError(
            f"cannot start Spark ({exc}); is Java 17 or later installed (java -version)?",
            code="spark_unavailable",
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _rule_by_partition(
    districts: dict[int, tuple[Policy, pl.DataFrame, datetime]],
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function ``mapInArrow`` runs on each partition (shipped to executors by pickle)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        # All of the partition's batches first: a parcel's events may lie in any of them.
        taken = list(batches)
        if not taken or sum(b.num_rows for b in taken) == 0:
            return
        table = pa.Table.from_batches(taken)
        frame = pl.DataFrame(pl.from_arrow(table)).with_columns(
            pl.col("scan_time").dt.convert_time_zone(TZ_NAME),
            pl.col("scan_type").cast(ScanType),
        )
        for (district,), events in frame.partition_by("district", as_dict=True).items():
            policy, sites, as_of = districts[int(district)]
            statuses = parcel_statuses(events.drop("district").lazy(), sites.lazy(), policy, as_of)
            counts = counts_of(statuses).collect().with_columns(events=pl.lit(0, pl.Int64))
            read = pl.DataFrame(
                {"events": [events.height], **{c: [0] for c in COUNT_COLUMNS}},
                schema={"events": pl.Int64, **dict.fromkeys(COUNT_COLUMNS, pl.Int64)},
            )
            out = pl.concat([counts, read], how="diagonal").with_columns(
                district=pl.lit(district, pl.Int32)
            )
            yield from (
                out.select(PARTIAL_SCHEMA.names()).to_arrow().cast(PARTIAL_ARROW).to_batches()
            )

    return run


def partitions_for(
    snapshots: Sequence[Snapshot], parallelism: int, partition_events: int = PARTITION_EVENTS
) -> int:
    """How many partitions the events are cut in: every core busy, none over
    ``partition_events`` events on average (a hash spreads parcels evenly)."""
    return max(parallelism, math.ceil(sum(s.events for s in snapshots) / partition_events))


def spark_counts(
    spark: SparkSession, snapshots: Sequence[Snapshot], *, partition_events: int = PARTITION_EVENTS
) -> list[DistrictCounts]:
    """Per-(month, carrier) counts (:data:`COUNTS_SCHEMA`) of every snapshot, in one Spark job.

    Each district's events are read from its file list, cut at its ``as_of``, and the rule runs
    with its own policy and sites (see the module doc). With a snapshot's ``from_month``, the
    files before it give their departures only and only the months from it on are answered
    (the others' figures would be wrong: their arrivals were not read).
    """
    from pyspark.sql import functions as F

    frames: list[DataFrame] = []
    plan: dict[int, tuple[Policy, pl.DataFrame, datetime]] = {}
    for i, snap in enumerate(snapshots):
        plan[i] = (snap.policy, load_sites(snap.store), snap.as_of)
        cutoff = F.unix_micros("scan_time") <= (snap.as_of - EPOCH) // timedelta(microseconds=1)
        early = set(snap.departs_only)
        late = [f for f in snap.files if f not in early]
        for files, keep in (
            (late, cutoff),
            (snap.departs_only, cutoff & (F.col("scan_type") == "depart")),
        ):
            if files:
                frames.append(
                    spark.read.schema(SPARK_EVENTS)
                    .parquet(*files)
                    .where(keep)
                    .select(F.lit(i).cast("int").alias("district"), *RULE_COLUMNS)
                )
    partials = pl.DataFrame(schema=PARTIAL_SCHEMA)
    if frames:
        events = frames[0]
        for frame in frames[1:]:
            events = events.unionByName(frame)
        parallelism = spark.sparkContext.defaultParallelism
        partitions = partitions_for(snapshots, parallelism, partition_events)
        summed = (
            events.repartition(partitions, "district", "carrier", "waybill_no")
            .mapInArrow(_rule_by_partition(plan), PARTIAL_DDL)
            .groupBy("district", "month", "carrier")
            .agg(*(F.sum(c).cast("long").alias(c) for c in ("events", *COUNT_COLUMNS)))
        )
        partials = pl.DataFrame(pl.from_arrow(summed.toArrow())).cast(PARTIAL_SCHEMA)
    out = []
    for i in range(len(snapshots)):
        mine = partials.filter(pl.col("district") == i)
        keyed = mine.filter(pl.col("month").is_not_null())
        if snapshots[i].from_month is not None:
            keyed = keyed.filter(pl.col("month") >= snapshots[i].from_month)
        counts = keyed.select(COUNTS_SCHEMA.names()).cast(COUNTS_SCHEMA).sort("month", "carrier")
        out.append(DistrictCounts(counts, int(mine["events"].sum())))
    return out


def spark_reports(
    spark: SparkSession,
    districts: Sequence[tuple[Store, Policy]],
    month: str,
    as_of: datetime,
) -> list[MonthlyReport]:
    """The report of ``month`` of every district, in the order given, its carrier figures
    computed on Spark: the report ``report`` prints for that district."""
    snapshots = [snapshot(store, policy, month, as_of) for store, policy in districts]
    answers = spark_counts(spark, snapshots)
    return [
        report_from_counts(snap.store, snap.policy, month, snap.as_of, answer.counts)
        for snap, answer in zip(snapshots, answers, strict=True)
    ]
