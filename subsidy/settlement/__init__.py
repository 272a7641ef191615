"""Settlement (SPEC §11): from a closed month's figures to money paid.

Modules, one concept each::

    prorate      the claim of a carrier and the exact pro-rating of a month's claims (pure)
    capitals     amounts in Chinese capital numerals, 大写 (pure)
    four_eyes    who may sign after whom (pure)
    holds        the subsidy held back by open anomaly flags (0 until flags exist)
    budgets      the yearly parcel-subsidy budget and what is committed and paid of it
    payees       the carriers registry: each carrier's payee, bank and account
    statements   statements created by closing a month, and their four-eyes lifecycle
    reconcile    the bank's file of payments matched against the approved statements
    program      the year's fund: budget, committed, paid, awards
    documents    the printable statement (PDF), its parcel list, the payment list (XLSX)
"""
