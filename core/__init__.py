"""The foundation: time and money, settings and policy, the store and its migrations.

It imports no domain package (``ingest``, ``subsidy``) and no web or scheduler library; every
layer above builds on it (see ``docs/ARCHITECTURE.md``).
"""
