"""Custom events: ``metadata`` flattened into ``custom_`` primitives (documented rules)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from tests.transforms.support import props
from transforms.custom import (
    MAX_CUSTOM_KEYS,
    MAX_DEPTH,
    TRUNCATED,
    flatten_metadata,
    property_name,
    sanitise_key,
)


def _nest(levels: int) -> dict[str, Any]:
    """``{"n": {"n": ... {"leaf": 1}}}`` with the leaf ``levels`` objects down."""
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        node = {"n": node}
    return node


def _nest_list(levels: int) -> list[Any]:
    node: list[Any] = [{"leaf": 1}]
    for _ in range(levels - 1):
        node = [node, {"x": 1}]
    return node


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
        pytest.param(
            {"a_b": 1, "a": {"b": 2}}, {"custom_a_b": 1, "custom_a_b_2": 2}, id="collision-nested"
        ),
    ],
)
def test_flattening(metadata: dict[str, Any], expected: dict[str, Any]) -> None:
    assert _custom(metadata) == expected


@pytest.mark.parametrize("metadata", [None, "text", [1, 2], 5])
def test_non_object_metadata_is_ignored(metadata: object) -> None:
    assert _custom(metadata) == {}


def test_key_cap() -> None:
    flat = flatten_metadata({f"k{i}": i for i in range(MAX_CUSTOM_KEYS * 3)})
    assert len(flat) == MAX_CUSTOM_KEYS + 1
    assert flat["custom_k0"] == 0
    assert flat["custom_truncated"] is True


def test_depth_cap() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_DEPTH + 5):
        deep = {"n": deep}
    assert flatten_metadata(deep) == {"custom_truncated": True}
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
    assert flatten_metadata(deep) == {"custom_truncated": True}


def test_custom_events_keep_standard_properties_too() -> None:
    raw = {"type": "gift_sent", "value": 5, "currency": "usd", "metadata": {"to": "b"}}
    assert props(raw) == {"value": 5, "currency": "USD", "custom_to": "b"}


def test_sanitise_key_is_idempotent() -> None:
    for key in ["Plan Name", "trialDays", "a..b", "X_Y", "ABCdef"]:
        once = sanitise_key(key)
        assert sanitise_key(once) == once


@pytest.mark.parametrize(
    ("key", "name"),
    [
        pytest.param("año", "ano", id="ano"),
        pytest.param("región", "region", id="region"),
        pytest.param("categoría", "categoria", id="categoria"),
        pytest.param("ñ", "n", id="enye"),
        pytest.param("Ação Única", "acao_unica", id="portuguese"),
        pytest.param("señalÚltima", "senal_ultima", id="camel-after-accent"),
        pytest.param("\uff46\uff55\uff4c\uff4c", "full", id="fullwidth-nfkd"),
    ],
)
def test_latin_accents_are_transliterated(key: str, name: str) -> None:
    assert sanitise_key(key) == name
    assert _custom({key: 1}) == {f"custom_{name}": 1}


def _fallback(key: str) -> str:
    return "custom_k" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("日本", id="cjk"),
        pytest.param("🎉", id="emoji"),
        pytest.param("--", id="punctuation"),
        pytest.param("", id="empty"),
    ],
)
def test_unusable_keys_get_a_stable_fallback_name(key: str) -> None:
    assert _custom({key: 1, "ok": 3}) == {_fallback(key): 1, "custom_ok": 3}
    assert property_name(key) == _fallback(key).removeprefix("custom_")
    assert re.fullmatch(r"k[0-9a-f]{8}", property_name(key))


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param(
            {"Plan Name": "a", "plan_name": "b", "planName": "c"},
            {"custom_plan_name": "a", "custom_plan_name_2": "b", "custom_plan_name_3": "c"},
            id="same-level",
        ),
        pytest.param(
            {"año": 1, "ano": 2}, {"custom_ano": 1, "custom_ano_2": 2}, id="after-transliteration"
        ),
        pytest.param(
            {"x": 1, "X": 2, "x_2": 3},
            {"custom_x": 1, "custom_x_2": 2, "custom_x_2_2": 3},
            id="suffix-taken-by-later-key",
        ),
        pytest.param(
            {"v": {"id": 1}, "V": {"id": 2}},
            {"custom_v_id": 1, "custom_v_id_2": 2},
            id="nested",
        ),
    ],
)
def test_collisions_get_numbered_suffixes(
    metadata: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert _custom(metadata) == expected


@pytest.mark.parametrize(
    ("metadata", "truncated"),
    [
        pytest.param({f"k{i}": i for i in range(MAX_CUSTOM_KEYS)}, False, id="exactly-the-cap"),
        pytest.param({f"k{i}": i for i in range(MAX_CUSTOM_KEYS + 1)}, True, id="one-over-cap"),
        pytest.param({"a": 1, "deep": _nest(MAX_DEPTH + 1)}, True, id="too-deep"),
        pytest.param({"a": 1, "deep": _nest(MAX_DEPTH - 1)}, False, id="deep-but-fits"),
        pytest.param({"l": _nest_list(MAX_DEPTH + 1)}, True, id="too-deep-list"),
        pytest.param({"truncated": "mine"}, False, id="user-key-alone"),
    ],
)
def test_truncation_is_flagged(metadata: dict[str, Any], truncated: bool) -> None:
    flat = flatten_metadata(metadata)
    assert (flat.get(TRUNCATED) is True) is truncated
    assert len(flat) <= MAX_CUSTOM_KEYS + 1
    if "a" in metadata:
        assert flat["custom_a"] == 1  # what fits is kept


def test_truncation_flag_moves_a_user_truncated_key() -> None:
    metadata: dict[str, Any] = {"truncated": "mine", **{f"k{i}": i for i in range(200)}}
    flat = flatten_metadata(metadata)
    assert flat[TRUNCATED] is True
    assert flat["custom_truncated_2"] == "mine"
    assert flat["custom_k0"] == 0
