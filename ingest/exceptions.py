"""Errors of the ingest package.

Hierarchy::

    IngestError
    ├── FileRefused          the upload is refused whole; nothing of it is ingested
    │   └── FileTooLarge     over the configured size (on disk or decompressed)
    ├── UploadConflict       the same bytes are already on record for another carrier
    └── ScanWordError        a scan-type word cannot be added or removed
        ├── ScanWordInvalid  empty word, unknown scan type or carrier
        ├── ScanWordExists   the word is already in that list
        └── ScanWordNotFound no admin-added word has that id (defaults cannot be removed)

Store errors are ``core.exceptions.StoreError``.
"""

from core.exceptions import DomainError


class IngestError(DomainError):
    """Base class of every error raised by the ingest package."""


class FileRefused(IngestError):
    """The upload is refused as a whole, with a one-line reason a person understands."""

    code = "file_refused"


class FileTooLarge(FileRefused):
    """The upload is larger than the configured limit (on disk or once decompressed)."""

    code = "file_too_large"


class UploadConflict(IngestError):
    """The same bytes were already uploaded for another carrier (a file is one upload, ever)."""

    code = "upload_conflict"


class ScanWordError(IngestError):
    """A scan-type word cannot be added or removed."""


class ScanWordInvalid(ScanWordError):
    """The word is empty, or its scan type or carrier is not known."""

    code = "invalid_scan_word"


class ScanWordExists(ScanWordError):
    """The word is already mapped for that scope (every carrier, or the one named)."""

    code = "scan_word_exists"


class ScanWordNotFound(ScanWordError):
    """No admin-added word has that id (the shipped defaults cannot be removed)."""

    code = "scan_word_not_found"
