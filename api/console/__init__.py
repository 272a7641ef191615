"""The web console under ``/console/``: server-rendered pages over the same dependencies
(:mod:`api.deps`: store, policy, settings, upload limit, operator scope) and the same domain
functions as ``/v1``; no business rule is written again here, no route function is called.

Sign-in is by API token (verified by :mod:`subsidy.tokens`), kept as a session cookie
(:mod:`api.console.session`); every form that changes something carries a CSRF token. Pages
are in Chinese by default, in English by a switch (:mod:`api.console.i18n`). Every asset is
served by the service itself (:mod:`api.console.assets`): no CDN, system fonts only.

==========================  ===================================  ==========================
page                        who                                  module
==========================  ===================================  ==========================
/console/login, /logout     anyone                               :mod:`.auth`
/console/report             finance, auditor, admin; operators   :mod:`.reports`
                            see their own carrier
/console/months/M/close     finance                              :mod:`.reports`
/console/uploads[/ID]       operators (own carrier), staff       :mod:`.uploads`
/console/uploads/preview    operators                            :mod:`.previews`
/console/scan-words         admin                                :mod:`.scan_words`
/console/parcels            operators (own carrier), staff       :mod:`.parcels`
/console/awards             finance (writes), auditor, admin     :mod:`.records`
/console/audit              finance, auditor, admin              :mod:`.records`
/console/finance            finance (writes), auditor, admin     :mod:`.settlement`
/console/statements[/ID]    operators (own carrier), staff;      :mod:`.settlement`
                            finance moves them
/console/reconcile          finance                              :mod:`.settlement`
/console/anomalies          staff; operators (own carrier,       :mod:`.anomalies`
                            read-only); auditors review
/console/samples[/ID]       staff; operators (own carrier,       :mod:`.samples`
                            read-only); auditors draw and
                            find, finance deducts
/console/parcels/list[.csv] operators (own carrier), staff       :mod:`.parcel_lists`
==========================  ===================================  ==========================

:mod:`api.app` calls :func:`install`.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api.console import (
    anomalies,  # SPEC §12 pages (flags and review, samples, parcel lists)
    assets,
    auth,
    parcel_lists,
    parcels,
    previews,  # SPEC §3a: the preview before an upload is stored
    records,
    reports,
    samples,
    scan_words,  # SPEC §3a: couriers' scan words, mapped by an admin
    settlement,  # SPEC §11 pages (finance home, statements, reconcile)
    uploads,
)
from api.console.figures import FigureCache
from api.console.session import SessionStore

router = APIRouter(tags=["console"])
_MODULES = (auth, reports, previews, uploads, scan_words, parcels, records, settlement)
for _module in (*_MODULES, anomalies, samples, parcel_lists, assets):
    router.include_router(_module.router)


def install(app: FastAPI) -> None:
    """Mount the console on ``app`` with its session store and figure cache (per app)."""
    app.state.console_sessions = SessionStore()
    app.state.console_figures = FigureCache()
    app.include_router(router)


__all__ = ["install", "router"]
