"""Golden payloads: exact TikTok output for each example kind of the product spec.

Each ``golden/*.json`` holds ``{"input": <Masivo event>, "expected": <outcome JSON>}``,
transformed with :data:`GOLDEN_OPTIONS` at :data:`NOW`; an optional ``"options"`` object
overrides some of them (``event_map`` as the destinations file gives it). Reviewed by hand
when written; a change in any of them is a change of the wire format and needs the same
review. ``expected`` is the outcome as ``masivo-tiktok transform`` prints it: ``events`` is
exactly what TikTok receives, ``quality`` what the quality counters record.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.transforms.support import NOW
from transforms import TransformOptions, transform
from transforms.names import check_event_map

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_OPTIONS = TransformOptions(
    destination_id="golden", default_currency="USD", phone_region="US"
)
#: The spec's "Examples" list, each of which must have a golden file.
SPEC_EXAMPLES = [
    "purchase_native",
    "purchase_alternative",
    "add_to_cart",
    "view_content",
    "search",
    "button_click",
    "form_submission",
    "custom_free_trial",
]
#: Issue 10's examples ("Match quality"), each of which must have a golden file.
ISSUE_10_EXAMPLES = [
    "match_no_identity",
    "match_params_in_properties",
    "match_identity_arrays",
    "match_phone_without_plus",
    "match_purchase_without_currency",
    "match_explicit_event_id",
    "match_purchase_order_id_as_event_id",
    "match_single_contents_object",
    "match_name_and_address",
    "match_audience_hashed_ids",
    "match_event_map_registration",
    "match_search_string_shop_id_ldu",
]


def options_for(case: dict[str, Any]) -> TransformOptions:
    changes = dict(case.get("options", {}))
    if "event_map" in changes:
        changes["event_map"] = check_event_map(changes["event_map"])
    return replace(GOLDEN_OPTIONS, **changes)


def _cases() -> list[Path]:
    return sorted(GOLDEN.glob("*.json"))


def test_every_spec_and_issue_example_has_a_golden_file() -> None:
    names = {path.stem for path in _cases()}
    assert set(SPEC_EXAMPLES) <= names
    assert set(ISSUE_10_EXAMPLES) <= names


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in _cases()])
def test_golden_payload(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert transform(case["input"], options_for(case), NOW).as_json() == case["expected"]


SAMPLES = Path(__file__).parents[2] / "samples" / "events.jsonl"


def test_samples_cover_every_outcome() -> None:
    """``samples/events.jsonl`` (the README demo at ``--now 2026-11-24T12:00:00Z``)."""
    outcomes: dict[str, set[str]] = {"send": set(), "drop": set(), "reject": set()}
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        result = transform(json.loads(line), GOLDEN_OPTIONS, NOW).as_json()
        label = result.get("reason") or result["events"][0]["event"]
        outcomes[result["outcome"]].add(label)
    assert {"CompletePayment", "AudienceUpdated", "CustomerTagsUpdated"} <= outcomes["send"]
    assert {"too_old", "not_fulfilled", "no_consent"} <= outcomes["drop"]
    assert outcomes["reject"]
    assert "internal_error" not in outcomes["reject"]
