"""Pure mapping of Masivo customer events to TikTok Events API 2.0 events.

No I/O, no clock, no environment, nothing imported from ``worker``/``tasks``/``emulator``:
the runtime decodes, calls :func:`transform` with the destination's
:class:`TransformOptions` and ``now``, and acts on the :data:`Outcome`.

Public surface:

* :func:`transform` - one event → ``Send`` / ``Drop`` / ``Reject``; never raises;
* :func:`is_too_old` - the age rule, re-checked by the runtime before every send;
* :func:`switch_for` / :data:`EVENT_NAME_SWITCH` - which switch governs an outgoing name;
* :func:`canonical_event_id` - the stable ``event_id`` of an event;
* :class:`DropReason` / :class:`RejectReason` - the reason codes.
"""

from transforms.core import UNFULFILLED_STATUSES, transform
from transforms.eventid import canonical_event_id
from transforms.identity import hash_email, hash_external_id, hash_phone
from transforms.names import (
    EVENT_NAME_SWITCH,
    MASIVO_EVENT_NAMES,
    STANDARD_EVENTS,
    Switch,
    resolve_event_name,
    switch_for,
)
from transforms.options import DEFAULT_MAX_EVENT_AGE_S, Features, TransformOptions
from transforms.outcome import Drop, Outcome, Reject, Send
from transforms.reasons import DropReason, RejectReason
from transforms.timestamps import is_too_old, parse_issued_at

__all__ = [
    "DEFAULT_MAX_EVENT_AGE_S",
    "EVENT_NAME_SWITCH",
    "MASIVO_EVENT_NAMES",
    "STANDARD_EVENTS",
    "UNFULFILLED_STATUSES",
    "Drop",
    "DropReason",
    "Features",
    "Outcome",
    "Reject",
    "RejectReason",
    "Send",
    "Switch",
    "TransformOptions",
    "canonical_event_id",
    "hash_email",
    "hash_external_id",
    "hash_phone",
    "is_too_old",
    "parse_issued_at",
    "resolve_event_name",
    "switch_for",
    "transform",
]
