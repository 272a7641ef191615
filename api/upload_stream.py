"""Receive a multipart upload straight to disk, hashing it on the way, within a size limit.

FastAPI's ``UploadFile`` would spool the whole body before the route runs, with no limit and
outside the store. Here the body is parsed as it arrives (python-multipart's push parser):
the bytes of the ``file`` field go to a scratch file under ``DIR/tmp`` at most
``flush_bytes`` at a time, so memory per upload stays bounded whatever the file's size, and
the request is answered 413 as soon as the field passes the limit (or at once, when the
``Content-Length`` already says so). On any failure the scratch file is removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.errors import ApiError

FIELD = "file"
#: Room for the multipart framing and small fields beside the file.
FRAMING_SLACK = 64 * 1024
_OTHER_FIELD_LIMIT = 64 * 1024


@dataclass(frozen=True)
class ReceivedFile:
    """A file received to scratch space: where, its SHA-256, size and client file name."""

    path: Path
    sha256: str
    size: int
    filename: str | None


def human(n: int) -> str:
    """Bytes for people: ``1.5 MiB``."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"


def safe_filename(raw: str | None) -> str | None:
    """The client's file name reduced to a display label: last path part, no control
    characters, at most 200 characters. It is never used to name anything on disk.
    """
    if not raw:
        return None
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in ("", ".", ".."):
        return None
    return name[:200]


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "file_too_large",
        f"the file is larger than the upload limit of {human(limit)}; split the export into "
        "smaller files (by day, for instance)",
        limit=human(limit),
    )


@dataclass
class _State:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    in_file: bool = False
    other_size: int = 0
    files_seen: int = 0
    filename: str | None = None
    pending: bytearray = field(default_factory=bytearray)
    size: int = 0
    ended: bool = False


def _callbacks(state: _State, limit: int) -> dict[str, Any]:
    def on_part_begin() -> None:
        state.headers = {}
        state.in_file = False
        state.other_size = 0

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state.header_value += data[start:end]

    def on_header_end() -> None:
        state.headers[bytes(state.header_field).lower()] = bytes(state.header_value)
        state.header_field.clear()
        state.header_value.clear()

    def on_headers_finished() -> None:
        _, options = parse_options_header(state.headers.get(b"content-disposition", b""))
        if options.get(b"name", b"").decode("utf-8", "replace") != FIELD:
            return
        state.files_seen += 1
        if state.files_seen > 1:
            raise ApiError(
                422,
                "validation_error",
                f"send one file per upload, in the field {FIELD!r}",
                text_code="one_file_per_upload",
            )
        state.in_file = True
        raw = options.get(b"filename")
        state.filename = raw.decode("utf-8", "replace") if raw is not None else None

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state.in_file:
            state.size += end - start
            if state.size > limit:
                raise _too_large(limit)
            state.pending += data[start:end]
        else:
            state.other_size += end - start
            if state.other_size > _OTHER_FIELD_LIMIT:
                raise ApiError(
                    413,
                    "payload_too_large",
                    f"a form field other than {FIELD!r} is over {human(_OTHER_FIELD_LIMIT)}",
                    text_code="form_field_too_large",
                    limit=human(_OTHER_FIELD_LIMIT),
                )

    return {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_end": lambda: setattr(state, "ended", True),
    }


def _write(fh: BinaryIO, digest: Any, data: bytes) -> None:
    try:
        fh.write(data)
    except OSError as exc:  # a full disk: the store cannot take the file now
        raise _store_unavailable(exc) from exc
    digest.update(data)


def _store_unavailable(exc: OSError) -> ApiError:
    return ApiError(
        503,
        "store_unavailable",
        "the data store cannot take the file right now (its disk is full or failing); "
        f"nothing was recorded, please retry later ({exc.strerror or type(exc).__name__})",
    )


def _incomplete(received: int, declared: str) -> ApiError:
    return ApiError(
        422,
        "incomplete_upload",
        f"the upload was cut off ({received} of the {declared} bytes announced arrived); "
        "nothing was recorded, send the file again",
        received=received,
        declared=declared,
    )


def _unclosed() -> ApiError:
    return ApiError(
        422,
        "incomplete_upload",
        "the upload was cut off (the multipart body has no closing boundary); nothing was "
        "recorded, send the file again",
        text_code="upload_unclosed",
    )


def _open_scratch(path: Path) -> BinaryIO:
    return path.open("wb")


async def receive_file(
    request: Request,
    *,
    tmp_dir: Path,
    limit: int,
    flush_bytes: int = 1024**2,
    opener: Callable[[Path], BinaryIO] = _open_scratch,
) -> ReceivedFile:
    """Stream the multipart field ``file`` of ``request`` to a scratch file in ``tmp_dir``.

    Raises :class:`ApiError` 413 past ``limit`` bytes, 422 for a body that is not
    ``multipart/form-data`` with one ``file`` field, 422 ``incomplete_upload`` for a body
    cut off (no closing boundary, or shorter than its ``Content-Length``), 503
    ``store_unavailable`` when the scratch file cannot be written (a full disk).
    ``opener`` opens the scratch file (tests make it fail like a full disk).
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ApiError(
            422,
            "validation_error",
            f"send the file as multipart/form-data, in the field {FIELD!r} "
            "(curl -F 'file=@export.parquet')",
            text_code="not_multipart",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FRAMING_SLACK:
        raise _too_large(limit)
    state = _State()
    parser = MultipartParser(boundary, _callbacks(state, limit))  # type: ignore[arg-type]
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-", suffix=".part")
    os.close(fd)
    path = Path(name)
    digest = hashlib.sha256()
    received = 0
    try:
        with opener(path) as fh:
            async for chunk in request.stream():
                received += len(chunk)
                try:
                    parser.write(chunk)
                except MultipartParseError as exc:
                    raise ApiError(
                        422,
                        "validation_error",
                        f"the multipart body is malformed ({exc})",
                        text_code="bad_multipart",
                    ) from None
                if len(state.pending) >= flush_bytes:
                    data = bytes(state.pending)
                    state.pending.clear()
                    await run_in_threadpool(_write, fh, digest, data)
            try:
                parser.finalize()
            except MultipartParseError as exc:
                raise ApiError(
                    422,
                    "validation_error",
                    f"the multipart body is malformed ({exc})",
                    text_code="bad_multipart",
                ) from None
            if declared.isdigit() and received < int(declared):
                raise _incomplete(received, declared)
            if not state.ended:
                raise _unclosed()
            if state.files_seen == 0:
                raise ApiError(
                    422,
                    "validation_error",
                    f"the multipart body has no field {FIELD!r}; send the file in it "
                    "(curl -F 'file=@export.parquet')",
                    text_code="no_file_field",
                )
            if state.pending:
                await run_in_threadpool(_write, fh, digest, bytes(state.pending))
                state.pending.clear()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ReceivedFile(path, digest.hexdigest(), state.size, safe_filename(state.filename))
