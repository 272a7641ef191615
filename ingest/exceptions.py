"""Errors of the ingest package.

Hierarchy::

    IngestError
    ├── FileRefused          the upload is refused whole; nothing of it is ingested
    │   └── FileTooLarge     over the configured size (on disk or decompressed)
    └── UploadConflict       the same bytes are already on record for another carrier

Store errors are ``core.exceptions.StoreError``.
"""

from core.exceptions import DomainError


class IngestError(DomainError):
    """Base class of every error raised by the ingest package."""


class FileRefused(IngestError):
    """The upload is refused as a whole, with a one-line reason a person understands."""


class FileTooLarge(FileRefused):
    """The upload is larger than the configured limit (on disk or once decompressed)."""


class UploadConflict(IngestError):
    """The same bytes were already uploaded for another carrier (a file is one upload, ever)."""
