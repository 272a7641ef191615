"""Reading courier scan-log uploads, validating them row by row, and committing them to the store.

Nothing here speaks HTTP or schedules anything.
"""
