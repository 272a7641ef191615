"""Errors of the foundation.

Hierarchy::

    CoreError
    ├── StoreError           the store is unusable (locked, damaged, full); nothing was changed
    │   └── NoStoreError     a reading command was pointed at a folder that holds no store
    └── PolicyError          the policy file is invalid (a rate above the cap, a bad window)
"""


class CoreError(Exception):
    """Base class of every error raised by the foundation."""


class StoreError(CoreError):
    """The store cannot be used; the operation changed nothing."""


class NoStoreError(StoreError):
    """The folder holds no store (and a reading command never creates one)."""


class PolicyError(CoreError):
    """The policy configuration is invalid; refused at load."""
