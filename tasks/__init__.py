"""Celery tasks, thin: decode, call a plain function of ``worker``, hand over.

Task names are stable contracts (producers in other languages send ``tiktok.ingest``).
"""

from tasks.delivery import flush, ingest, probe_auth
from tasks.maintenance import expire, recover, replay_dlq

__all__ = ["expire", "flush", "ingest", "probe_auth", "recover", "replay_dlq"]
