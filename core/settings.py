"""The settings: one typed object, built once at start-up (``cli.settings_of``: the flags
given, then ``PARCEL_SUBSIDY_*`` environment variables, then the defaults), that fails loudly
on a bad value, and is passed down: to :func:`api.app.create_app` (reached in routes through
:func:`api.deps.get_settings`) and from there to ``scheduler.start``. Nothing else reads the
environment; no module-level singleton.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the store is, which policy applies, and the limits of what a client may send."""

    model_config = SettingsConfigDict(env_prefix="PARCEL_SUBSIDY_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("data"), description="the store folder (--data-dir)")
    policy: Path | None = Field(
        default=None, description="policy TOML; default DATA_DIR/policy.toml, else Jiyang's"
    )
    max_upload_bytes: int | None = Field(
        default=None,
        gt=0,
        description="largest accepted upload in bytes; default and ceiling: the policy's "
        "limits.max_upload_bytes",
    )
    max_sites_bytes: int = Field(
        default=16 * 1024**2, gt=0, description="largest sites registry body (PUT /v1/sites)"
    )
    upload_flush_bytes: int = Field(
        default=1024**2,
        gt=0,
        description="an upload is written to disk every this many bytes (memory per upload)",
    )
    ingest_every: float = Field(
        default=300.0,
        gt=0,
        allow_inf_nan=False,
        description="seconds between two runs of the inbox ingest job (serve --ingest-every)",
    )
    signin_max_delay: float = Field(
        default=1.0,
        ge=0,
        le=10,
        allow_inf_nan=False,
        description="longest wait, in seconds, before answering a failed sign-in once a client "
        "has failed 20 times within a minute (api.throttle)",
    )
    ingest_in_background: bool = Field(
        default=True,
        description="ingest an accepted upload right after answering 202; when false, the "
        "scheduler's ingest job picks it up",
    )
    ingest_in_child: bool = Field(
        default=True,
        description="run the service's background ingests (an accepted upload, the inbox "
        "ingest job) and the publication after them in a child process at a lower CPU "
        "priority (subsidy.ingest_child); when false, in a thread of the service",
    )
    ingest_child_timeout: float = Field(
        default=6 * 3600.0,
        gt=0,
        allow_inf_nan=False,
        description="seconds after which an ingest child is killed (the store stays as it was)",
    )
