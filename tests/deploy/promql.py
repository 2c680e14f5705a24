"""Metric names in PromQL expressions, without a PromQL parser.

Strings, label matchers ``{...}``, range and subquery selectors ``[...]`` and the label lists
of ``by`` / ``without`` / ``on`` / ``ignoring`` / ``group_left`` / ``group_right`` are removed;
what is left that is an identifier, not a function call and not a keyword is a metric name.
So an expression naming a metric the exporter does not export is caught, whatever its prefix.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset(
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
        "and", "or", "unless", "offset", "atan2", "inf", "nan",
    }
)  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _LABEL_LIST.sub(" ", text)
    text = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?\b", " ", text)  # numbers (1e3, 0.5)
    names = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


def grafana_names(expr: str) -> set[str]:
    """Names in a Grafana query: ``label_values(metric, label)`` or plain PromQL."""
    found = re.fullmatch(r"\s*label_values\(\s*([^,)]+?)\s*(,\s*\w+\s*)?\)\s*", expr)
    if found:
        return metric_names(found.group(1))
    return metric_names(expr.replace("$__rate_interval", "5m").replace("$__interval", "1m"))


def uses_any(exprs: list[str], series: set[str]) -> bool:
    """Does some expression use one of ``series`` (``name``, or ``name{label}``: the metric
    with that label in a matcher or a by/without/on list)?"""
    for expr in exprs:
        names = grafana_names(expr)
        for entry in series:
            name, _, label = entry.partition("{")
            if name in names and (not label or re.search(rf"\b{label.rstrip('}')}\b", expr)):
                return True
    return False
