"""The subsidy rule, its policy, the sites registry and the reports.

Nothing here speaks HTTP or schedules anything: the CLI, the API, the scheduler and the
benchmarks all call these functions.
"""
