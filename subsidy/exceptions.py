"""Errors of the subsidy domain.

Hierarchy::

    SubsidyError
    ├── SiteRegistryError    a sites registry file is refused whole
    ├── NotFoundError        a parcel, month or award that does not exist
    ├── ConflictError        the request contradicts the stored state (month closed twice,
    │                        a second award for a center)
    ├── InvalidValueError    a value breaks a rule of the scheme (an award above the cap, a
    │                        month not yet over, an unknown role)
    └── SparkUnavailableError  spark-report cannot start Spark (PySpark or Java missing)

Policy errors are ``core.exceptions.PolicyError``.
"""

from core.exceptions import DomainError


class SubsidyError(DomainError):
    """Base class of every error raised by the subsidy package."""


class SiteRegistryError(SubsidyError):
    """A sites registry file cannot be imported; nothing was changed."""


class NotFoundError(SubsidyError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class ConflictError(SubsidyError):
    """The request contradicts what is stored (closing a closed month, a second award)."""


class InvalidValueError(SubsidyError):
    """A value breaks a rule of the scheme (above a cap, a month not yet over); nothing changed."""


class SparkUnavailableError(SubsidyError):
    """Spark cannot run here: PySpark (the ``spark`` extra) or Java 17+ is missing."""

    code = "spark_unavailable"
