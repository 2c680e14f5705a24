"""Everything that owns a Redis key or a Lua script.

Key names live in :mod:`worker.store.keys` only; each module here owns one structure (intake,
outbox, dead letters, counters, pause flags, locks, token buckets) and its scripts (``lua/``).
A module of this package imports nothing of ours but :mod:`worker.store.keys` (and its
siblings' formats), so the state layer can be read, and tested, on its own.
"""
