"""Pure mapping of Masivo customer events to TikTok Events API 2.0 events.

No I/O, no clock, no environment, nothing imported from ``worker``/``tasks``/``emulator``:
the runtime decodes, calls :func:`transform` with the destination's
:class:`TransformOptions` and ``now``, and acts on the :data:`Outcome`.

Public surface:

* :func:`transform` - one event → ``Send`` / ``Drop`` / ``Reject``; never raises;
* :func:`is_too_old` - the age rule, re-checked by the runtime before every send;
* :func:`switch_for` / :data:`EVENT_NAME_SWITCH` - which switch governs an outgoing name;
* :func:`canonical_event_id` - the stable ``event_id`` of an event;
* :class:`DropReason` / :class:`RejectReason` - the reason codes;
* :class:`Quality`, :class:`MatchKey`, :class:`QualityWarning` - what each sent event carries
  for matching and what it lacks (``Send.quality``);
* :func:`check_event_map` - a destination's ``event_map``, validated.
"""

from transforms.core import UNFULFILLED_STATUSES, transform
from transforms.eventid import canonical_event_id
from transforms.identity import hash_email, hash_external_id, hash_phone
from transforms.names import (
    EVENT_NAME_SWITCH,
    MASIVO_EVENT_NAMES,
    STANDARD_EVENTS,
    Switch,
    check_event_map,
    resolve_event_name,
    switch_for,
)
from transforms.options import DEFAULT_MAX_EVENT_AGE_S, Features, TransformOptions
from transforms.outcome import Drop, Outcome, Reject, Send
from transforms.quality import MatchKey, Quality, QualityWarning
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
    "MatchKey",
    "Outcome",
    "Quality",
    "QualityWarning",
    "Reject",
    "RejectReason",
    "Send",
    "Switch",
    "TransformOptions",
    "canonical_event_id",
    "check_event_map",
    "hash_email",
    "hash_external_id",
    "hash_phone",
    "is_too_old",
    "parse_issued_at",
    "resolve_event_name",
    "switch_for",
    "transform",
]
