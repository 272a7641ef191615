"""The subsidy policy: window, transit limit, rate table and caps, loaded from TOML.

Every figure of the scheme is a policy value (other districts run the same scheme with other
rates and windows). A policy that breaks its own caps is refused at load with a message that
names the offending value.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from core.exceptions import PolicyError
from core.timeutil import month_of, to_local

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.toml")


@dataclass(frozen=True)
class Rate:
    """A rate in force from ``effective_from`` (an Asia/Shanghai date) on, in fen per parcel."""

    effective_from: date
    rate_fen: int


@dataclass(frozen=True)
class AnomalyPolicy:
    """Thresholds of the audit controls (SPEC §12, policy ``[anomalies]``)."""

    min_transit_minutes: int = 30
    burst_per_minute: int = 60
    reuse_days: int = 30
    quiet_from: time = time(0, 0)
    quiet_to: time = time(5, 0)
    spike_factor: float = 5.0
    spike_min: int = 50
    action: str = "hold"

    @property
    def holds(self) -> bool:
        """Whether open flags hold a parcel's subsidy (``action = "hold"``)."""
        return self.action == "hold"


ANOMALY_ACTIONS = ("hold", "report")


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy. Times are aware Asia/Shanghai; money is integer fen."""

    name: str
    window_start: datetime
    window_end: datetime  # exclusive
    max_transit: timedelta
    rate_cap_fen: int
    award_cap_fen: int
    rates: tuple[Rate, ...]
    carriers: dict[str, str]
    max_upload_bytes: int
    max_uncompressed_bytes: int
    #: An upload of which more than this share of data rows would be rejected is refused
    #: whole (SPEC §3a), in [0, 1].
    max_rejected_share: float = 0.5
    digest: str = field(default="", compare=False)
    anomalies: AnomalyPolicy = field(default_factory=AnomalyPolicy)

    def rate_on(self, day: date) -> int | None:
        """The rate (fen) in force on ``day``, or ``None`` before the first rate."""
        current = None
        for rate in self.rates:
            if rate.effective_from <= day:
                current = rate.rate_fen
        return current

    def months_until(self, now: datetime) -> tuple[str, str] | None:
        """First and last ``YYYY-MM`` of the policy window (Asia/Shanghai), the last no later
        than ``now``'s month; ``None`` before the window opens."""
        first = month_of(self.window_start)
        last = min(month_of(self.window_end - timedelta(microseconds=1)), month_of(now))
        return (first, last) if first <= last else None


def _require(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise PolicyError(f"policy: missing '{key}' in [{where}]")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PolicyError(f"policy: [{where}] {key} = {value!r} has the wrong type")
    return value


def _aware(value: Any, key: str) -> datetime:
    if isinstance(value, datetime):
        return to_local(value)
    if isinstance(value, date):
        return to_local(datetime(value.year, value.month, value.day))
    raise PolicyError(f"policy: [policy] {key} = {value!r} is not a date or date-time")


def _clock(value: Any, key: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise PolicyError(f"policy: [anomalies] {key} = {value!r} is not a time of day (HH:MM)")


def anomalies_from_dict(table: dict[str, Any]) -> AnomalyPolicy:
    """The ``[anomalies]`` table, SPEC §12 defaults for what it leaves out."""
    base = AnomalyPolicy()
    counts = {}
    for key in ("min_transit_minutes", "burst_per_minute", "reuse_days", "spike_min"):
        value = table.get(key, getattr(base, key))
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PolicyError(f"policy: [anomalies] {key} = {value!r} must be a whole number >= 0")
        counts[key] = value
    factor = table.get("spike_factor", base.spike_factor)
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or factor <= 0:
        raise PolicyError(f"policy: [anomalies] spike_factor = {factor!r} must be positive")
    action = table.get("action", base.action)
    if action not in ANOMALY_ACTIONS:
        raise PolicyError(f"policy: [anomalies] action = {action!r} must be 'hold' or 'report'")
    return AnomalyPolicy(
        quiet_from=_clock(table.get("quiet_from", "00:00"), "quiet_from"),
        quiet_to=_clock(table.get("quiet_to", "05:00"), "quiet_to"),
        spike_factor=float(factor),
        action=str(action),
        **counts,
    )


def _share(value: Any) -> float:
    share = float(value)
    if not 0 <= share <= 1:
        raise PolicyError(
            f"limits.max_rejected_share must lie in [0, 1]; got {value!r}",
            code="bad_rejected_share",
            value=value,
        )
    return share


def policy_from_dict(raw: dict[str, Any], digest: str = "") -> Policy:
    """Build and validate a :class:`Policy` from parsed TOML."""
    pol = raw.get("policy", {})
    limits = raw.get("limits", {})
    carriers = raw.get("carriers", {})
    start = _aware(_require(pol, "window_start", (datetime, date), "policy"), "window_start")
    end = _aware(_require(pol, "window_end", (datetime, date), "policy"), "window_end")
    if end <= start:
        raise PolicyError(f"policy: window_end {end} must be after window_start {start}")
    hours = _require(pol, "max_transit_hours", (int, float), "policy")
    if hours <= 0:
        raise PolicyError(f"policy: max_transit_hours = {hours} must be positive")
    cap = _require(pol, "rate_cap_fen", int, "policy")
    award_cap = _require(pol, "award_cap_fen", int, "policy")
    if cap <= 0 or award_cap < 0:
        raise PolicyError("policy: rate_cap_fen must be positive and award_cap_fen not negative")
    rates: list[Rate] = []
    for i, entry in enumerate(raw.get("rates", [])):
        eff = _require(entry, "effective_from", date, f"rates #{i + 1}")
        if isinstance(eff, datetime):
            raise PolicyError(f"policy: rates #{i + 1} effective_from must be a date, not {eff}")
        fen = _require(entry, "rate_fen", int, f"rates #{i + 1}")
        if not 0 <= fen <= cap:
            raise PolicyError(
                f"policy: rate {fen} fen from {eff} is above the cap of {cap} fen "
                f"(rate_cap_fen); lower the rate or raise the cap if the notice allows it"
            )
        rates.append(Rate(eff, fen))
    if not rates:
        raise PolicyError("policy: the [[rates]] table is empty; give at least one rate")
    rates.sort(key=lambda r: r.effective_from)
    if len({r.effective_from for r in rates}) != len(rates):
        raise PolicyError("policy: two rates share the same effective_from date")
    if rates[0].effective_from > start.date():
        raise PolicyError(
            f"policy: the first rate starts {rates[0].effective_from}, after the window start "
            f"{start.date()}; every day of the window needs a rate"
        )
    if not carriers or not all(isinstance(k, str) and k for k in carriers):
        raise PolicyError("policy: [carriers] must list at least one carrier code")
    return Policy(
        name=str(pol.get("name", "")),
        window_start=start,
        window_end=end,
        max_transit=timedelta(hours=hours),
        rate_cap_fen=cap,
        award_cap_fen=award_cap,
        rates=tuple(rates),
        carriers={str(k).upper(): str(v) for k, v in carriers.items()},
        max_upload_bytes=int(limits.get("max_upload_bytes", 2 * 1024**3)),
        max_uncompressed_bytes=int(limits.get("max_uncompressed_bytes", 16 * 1024**3)),
        max_rejected_share=_share(limits.get("max_rejected_share", 0.5)),
        digest=digest,
        anomalies=anomalies_from_dict(raw.get("anomalies", {})),
    )


def load_policy(path: Path | None = None) -> Policy:
    """Load a policy TOML file (the embedded Jiyang default when ``path`` is ``None``)."""
    source = path or DEFAULT_POLICY_PATH
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise PolicyError(f"policy: cannot read {source}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"policy: {source} is not valid TOML: {exc}") from None
    return policy_from_dict(raw, digest=hashlib.sha256(data).hexdigest())


def resolve_policy(data_dir: Path, override: Path | None = None) -> Policy:
    """The policy in force for a data dir: ``override``, else ``DIR/policy.toml``, else default."""
    if override is not None:
        return load_policy(override)
    local = Path(data_dir) / "policy.toml"
    return load_policy(local if local.exists() else None)
