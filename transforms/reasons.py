"""Reason codes of :class:`~transforms.outcome.Drop` and :class:`~transforms.outcome.Reject`.

They are short, stable strings because the runtime uses them as metric labels and the
dead-letter record keeps them: renaming one is a breaking change for dashboards. ``detail``
carries the human part (which field, which index).

:class:`InvalidEventError` is the one exception of the package: helpers deep in the mapping
raise it and :func:`transforms.transform` turns it into a ``Reject`` at exactly one place, so
no helper has to thread error values back up by hand.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DropReason", "InvalidEventError", "RejectReason"]


class DropReason:
    """Policy outcomes: the event is fine but must not be sent. Counted, not an error."""

    TOO_OLD: Final = "too_old"
    FEATURE_DISABLED: Final = "feature_disabled"
    NOT_FULFILLED: Final = "not_fulfilled"
    NO_CONSENT: Final = "no_consent"

    ALL: Final = frozenset({TOO_OLD, FEATURE_DISABLED, NOT_FULFILLED, NO_CONSENT})


class RejectReason:
    """The event is invalid; sending it again unchanged will never work."""

    NOT_AN_OBJECT: Final = "not_an_object"
    MISSING_TYPE: Final = "missing_type"
    INVALID_TYPE: Final = "invalid_type"
    INVALID_TIMESTAMP: Final = "invalid_timestamp"
    FUTURE_TIMESTAMP: Final = "future_timestamp"
    INVALID_CONTENTS: Final = "invalid_contents"
    MISSING_CONTENTS: Final = "missing_contents"
    INVALID_VALUE: Final = "invalid_value"
    MISSING_VALUE: Final = "missing_value"
    INVALID_CURRENCY: Final = "invalid_currency"
    MISSING_CURRENCY: Final = "missing_currency"  # not produced since issue 10 (kept: old DLQ)
    INVALID_FIELD: Final = "invalid_field"
    MISSING_ACTION: Final = "missing_action"
    INVALID_ACTION: Final = "invalid_action"
    MISSING_AUDIENCE: Final = "missing_audience"
    MISSING_TAGS: Final = "missing_tags"
    UNIDENTIFIABLE: Final = "unidentifiable"
    MISSING_CUSTOMER: Final = "missing_customer"
    INTERNAL_ERROR: Final = "internal_error"

    ALL: Final = frozenset(
        {
            NOT_AN_OBJECT,
            MISSING_TYPE,
            INVALID_TYPE,
            INVALID_TIMESTAMP,
            FUTURE_TIMESTAMP,
            INVALID_CONTENTS,
            MISSING_CONTENTS,
            INVALID_VALUE,
            MISSING_VALUE,
            INVALID_CURRENCY,
            MISSING_CURRENCY,
            INVALID_FIELD,
            MISSING_ACTION,
            INVALID_ACTION,
            MISSING_AUDIENCE,
            MISSING_TAGS,
            UNIDENTIFIABLE,
            MISSING_CUSTOMER,
            INTERNAL_ERROR,
        }
    )


class InvalidEventError(Exception):
    """Raised by mapping helpers; becomes ``Reject(reason, detail)`` in ``transform``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
