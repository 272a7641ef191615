"""Four eyes (SPEC §7, §11): the second signature comes from another person.

People are told apart by the name of their token, compared ignoring case and spaces
(``Li Ming`` and ``liming`` are one person). A token without a name signs nothing, since
nobody could tell whether its holder signed before.
"""

from __future__ import annotations

from subsidy.exceptions import ConflictError


def person(name: str | None) -> str:
    """The comparable form of a name: no whitespace, case-folded; ``""`` for none."""
    return "".join((name or "").split()).casefold()


def require_name(name: str | None, *, what: str) -> str:
    """The signer's name; :class:`ConflictError` (``unnamed_signer``) for a nameless token."""
    if not person(name):
        raise ConflictError(
            f"a token without a name cannot {what}: four eyes need to know who signs; ask an "
            "administrator for a token created with --name",
            code="unnamed_signer",
            action=what,
        )
    assert name is not None
    return name.strip()


def require_other_person(first: str | None, second: str | None, *, what: str) -> str:
    """The second signer's name, refused (:class:`ConflictError`, ``same_person``) when it is
    the first signer's (or the first is unknown and the second has no name)."""
    name = require_name(second, what=what)
    if person(first) and person(first) == person(name):
        raise ConflictError(
            f"{name} cannot {what}: the same person ({first}) signed the step before; another "
            "person must do it (four eyes)",
            code="same_person",
            action=what,
            name=name,
        )
    return name
