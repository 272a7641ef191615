"""Errors of the foundation, and the base every domain error shares.

Every domain error carries a machine ``code`` and the ``params`` its message is made of, as
Django's ``ValidationError(message, code=..., params=...)`` does: ``str(error)`` is the English
sentence (API ``detail``, CLI line); the edge words it in another language from ``code`` and
``params`` (the console's Chinese, ``api.console.i18n``).

Hierarchy::

    DomainError                 code + params; base of every package's errors
    └── CoreError
        ├── StoreError           the store is unusable (locked, damaged, full); nothing changed
        │   └── NoStoreError     a reading command was pointed at a folder that holds no store
        ├── PolicyError          the policy file is invalid (a rate above the cap, a bad window)
        └── BadValue             (also a ValueError) a month, date, instant or amount given by a
                                 user is not one: codes ``bad_month``, ``bad_date``,
                                 ``bad_instant``, ``as_of_too_early``, ``as_of_in_future``,
                                 ``bad_yuan``
"""

from __future__ import annotations


class DomainError(Exception):
    """An error with a machine ``code`` and the ``params`` that word it at the edge."""

    #: The default code of the class; an instance may carry a more precise one.
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.params: dict[str, object] = params

    @property
    def message(self) -> str:
        """The English sentence (what ``str()`` gives)."""
        return str(self)


class CoreError(DomainError):
    """Base class of every error raised by the foundation."""

    code = "core_error"


class StoreError(CoreError):
    """The store cannot be used; the operation changed nothing."""

    code = "store_unavailable"


class NoStoreError(StoreError):
    """The folder holds no store (and a reading command never creates one)."""

    code = "no_store"


class PolicyError(CoreError):
    """The policy configuration is invalid; refused at load."""

    code = "bad_policy"


class BadValue(CoreError, ValueError):
    """A value given by a user (month, date, instant, amount) is not one; says the expected form."""

    code = "bad_value"
