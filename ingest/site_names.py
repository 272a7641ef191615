"""Sites given by name (SPEC §3a): a site cell may hold a registered ``site_code``, or a site's
registered name or one of its aliases (exact after trimming); it is stored as the code.

The registry (``sites`` table; written by ``subsidy.sites``, which refuses a name or alias
naming two sites or another site's code) is read here, below the subsidy layer.
"""

from __future__ import annotations

import json

from core.store import Store


def site_lookup(store: Store) -> dict[str, str]:
    """Registered name or alias -> site code (codes themselves are not listed: they stay)."""
    with store.connect() as db:
        rows = db.execute("SELECT site_code, name, aliases FROM sites").fetchall()
    out: dict[str, str] = {}
    for code, name, aliases in rows:
        for word in (name, *json.loads(aliases or "[]")):
            if word and word.strip() and word.strip() != code:
                out[word.strip()] = code
    return out
