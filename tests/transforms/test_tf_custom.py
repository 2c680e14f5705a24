"""Custom events: ``metadata`` flattened into ``custom_`` primitives (documented rules)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.transforms.tf_support import props
from transforms.custom import MAX_CUSTOM_KEYS, MAX_DEPTH, flatten_metadata, sanitise_key


def _custom(metadata: object) -> dict[str, Any]:
    return props({"type": "free_trial_started", "metadata": metadata})


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param(
            {"plan_name": "Pro", "trial_days": 14},
            {"custom_plan_name": "Pro", "custom_trial_days": 14},
            id="spec-example",
        ),
        pytest.param({"video": {"id": 7}}, {"custom_video_id": 7}, id="nested-object"),
        pytest.param(
            {"video": {"id": 7, "stats": {"duration_seconds": 12.5}}},
            {"custom_video_id": 7, "custom_video_stats_duration_seconds": 12.5},
            id="deeply-nested",
        ),
        pytest.param({"tags": ["a", "b", 3]}, {"custom_tags": "a,b,3"}, id="list-of-primitives"),
        pytest.param(
            {"flags": [True, False, None]}, {"custom_flags": "true,false"}, id="list-bools"
        ),
        pytest.param({"tags": []}, {}, id="empty-list"),
        pytest.param(
            {"items": [{"sku": "A"}, {"sku": "B", "qty": 2}]},
            {"custom_items_0_sku": "A", "custom_items_1_sku": "B", "custom_items_1_qty": 2},
            id="list-of-objects",
        ),
        pytest.param(
            {"mixed": [{"a": 1}, "x", [1, 2]]},
            {"custom_mixed_0_a": 1, "custom_mixed_1": "x", "custom_mixed_2": "1,2"},
            id="mixed-list",
        ),
        pytest.param({"gone": None, "empty": ""}, {}, id="null-and-empty-dropped"),
        pytest.param({"ok": True}, {"custom_ok": True}, id="bool"),
        pytest.param({"big": 2**70}, {"custom_big": str(2**70)}, id="bigint-as-string"),
        pytest.param({"Plan Name": "Pro"}, {"custom_plan_name": "Pro"}, id="key-space"),
        pytest.param({"trialDays": 3}, {"custom_trial_days": 3}, id="key-camel-case"),
        pytest.param({"a.b-c": 1}, {"custom_a_b_c": 1}, id="key-punctuation"),
        pytest.param({"__x__": 1}, {"custom_x": 1}, id="key-edges-stripped"),
        pytest.param({"日本": 1, "--": 2, "ok": 3}, {"custom_ok": 3}, id="unusable-keys-skipped"),
        pytest.param({"a_b": 1, "a": {"b": 2}}, {"custom_a_b": 1}, id="collision-first-wins"),
    ],
)
def test_flattening(metadata: dict[str, Any], expected: dict[str, Any]) -> None:
    assert _custom(metadata) == expected


@pytest.mark.parametrize("metadata", [None, "text", [1, 2], 5])
def test_non_object_metadata_is_ignored(metadata: object) -> None:
    assert _custom(metadata) == {}


def test_key_cap() -> None:
    flat = flatten_metadata({f"k{i}": i for i in range(MAX_CUSTOM_KEYS * 3)})
    assert len(flat) == MAX_CUSTOM_KEYS
    assert flat["custom_k0"] == 0


def test_depth_cap() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_DEPTH + 5):
        deep = {"n": deep}
    assert flatten_metadata(deep) == {}
    shallow: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_DEPTH - 1):
        shallow = {"n": shallow}
    assert list(flatten_metadata(shallow).values()) == [1]


def test_very_deep_metadata_does_not_recurse_unbounded() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):
        node["n"] = {}
        node = node["n"]
    assert flatten_metadata(deep) == {}


def test_custom_events_keep_standard_properties_too() -> None:
    raw = {"type": "gift_sent", "value": 5, "currency": "usd", "metadata": {"to": "b"}}
    assert props(raw) == {"value": 5, "currency": "USD", "custom_to": "b"}


def test_sanitise_key_is_idempotent() -> None:
    for key in ["Plan Name", "trialDays", "a..b", "X_Y", "ABCdef"]:
        once = sanitise_key(key)
        assert sanitise_key(once) == once
