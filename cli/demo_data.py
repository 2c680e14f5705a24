"""The demo's realistic sample: every kind of Masivo event, with times relative to now.

Shipped in the package (not a file with fixed dates) so the demo works on any day: each
template is a function of ``now`` and a serial number that makes ids unique when the sample
is scaled with ``--events N``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

__all__ = ["BRANDS", "sample_events"]

#: demo destinations: two healthy brands and one whose token TikTok refuses
BRANDS = ("brand-a", "brand-b", "brand-bad")

Template = Callable[[float, int], Any]
DAY = 86400


def _customer(i: int) -> dict[str, Any]:
    return {
        "customer_id": f"cust-{i % 997}",
        "email": f"  Cliente{i % 997}@Tienda.MX ",
        "phone": f"55 1234 {i % 10000:04d}",
        "context": {
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
            "page_url": f"https://tienda.mx/p/{i}?ttclid=E.C.P.demo{i}",
            "locale": "es-MX",
        },
    }


def purchase_native(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "PURCHASE",
        "issued_at": now - 120,
        **_customer(i),
        "order": {
            "purchase_id": f"ord-{i}",
            "value": 1299.0,
            "currency": "MXN",
            "products": [
                {
                    "sku": "TEN-42",
                    "name": "Tenis Runner",
                    "amount": 1,
                    "value": 899.0,
                    "category": "Calzado",
                },
                {
                    "sku": "CAL-01",
                    "name": "Calcetas",
                    "amount": 4,
                    "value": 400.0,
                    "brand": "Masivo",
                },
            ],
        },
    }


def purchase_alternative(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "purchase",
        "issued_at": (now - 300) * 1000,
        **_customer(i),
        "order_id": f"alt-{i}",
        "value": 59.98,
        "currency": "USD",
        "items": [{"item_id": 1001, "item_name": "Gorra", "unit_price": 29.99, "quantity": 2}],
    }


def add_to_cart(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "add_to_cart",
        "issued_at": now - 60,
        **_customer(i),
        "value": 899.0,
        "currency": "MXN",
        "product": {"sku": "TEN-42", "name": "Tenis Runner", "price": 899.0},
    }


def view_item(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "view_item",
        "issued_at": now - 30,
        **_customer(i),
        "items": [{"id": "TEN-42", "name": "Tenis Runner", "category": "Calzado"}],
        "content_type": "product",
    }


def search(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "search",
        "issued_at": now - 20,
        **_customer(i),
        "query": "tenis rojos",
    }


def simple(kind: str, **extra: Any) -> Template:
    def build(now: float, i: int) -> dict[str, Any]:
        return {"id": f"demo-{i}", "type": kind, "issued_at": now - 45, **_customer(i), **extra}

    return build


def custom_nested(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "video_watched",
        "issued_at": now - 10,
        **_customer(i),
        "metadata": {
            "video": {"id": 7, "title": "Unboxing"},
            "duration_seconds": 42,
            "tags": ["promo", "verano"],
        },
    }


def free_trial(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "free_trial_started",
        "issued_at": now - 10,
        **_customer(i),
        "metadata": {"plan_name": "Pro", "trial_days": 14},
    }


def audience(action: str) -> Template:
    def build(now: float, i: int) -> dict[str, Any]:
        return {
            "id": f"demo-{i}",
            "type": "AUDIENCE",
            "action": action,
            "issued_at": now - 5,
            "audience": {"id": f"aud-{i % 7}", "name": "VIP"},
            "customer_ids": [f"cust-{k}" for k in range(1200)],
        }

    return build


def customer_tags(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "CUSTOMER_TAGS",
        "customer_id": f"cust-{i}",
        "tags": ["vip", "early"],
        "action": "add",
        "issued_at": now - 5,
    }


def invalid_purchase(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "PURCHASE",
        "issued_at": now,
        "customer_id": "x",
        "order": {"products": []},
    }


def too_old(now: float, i: int) -> dict[str, Any]:
    return {
        "id": f"demo-{i}",
        "type": "view_item",
        "issued_at": now - 8 * DAY,
        "customer_id": "old",
        "items": [{"id": "A"}],
    }


def too_old_iso(now: float, i: int) -> dict[str, Any]:
    when = datetime.fromtimestamp(now - 9 * DAY, tz=UTC).isoformat()
    return {
        "id": f"demo-{i}",
        "type": "PURCHASE",
        "issued_at": when,
        "customer_id": "late",
        "order": {
            "purchase_id": f"late-{i}",
            "value": 10,
            "currency": "MXN",
            "products": [{"sku": "A"}],
        },
    }


def refused_by_tiktok(now: float, i: int) -> dict[str, Any]:
    """Two minutes ahead: within our clock-skew tolerance, beyond the demo TikTok's."""
    return {
        "id": f"demo-{i}",
        "type": "ClickButton",
        "issued_at": now + 120,
        "customer_id": "skewed",
    }


TEMPLATES: list[Template] = [
    purchase_native,
    purchase_alternative,
    add_to_cart,
    view_item,
    search,
    simple("sign_up"),
    simple("begin_checkout", value=1299.0, currency="MXN", items=[{"sku": "TEN-42"}]),
    simple("add_payment_info", value=1299.0, currency="MXN", items=[{"sku": "TEN-42"}]),
    simple("add_to_wishlist", items=[{"sku": "CAL-01", "name": "Calcetas"}]),
    simple("ClickButton", description="Comprar ahora"),
    simple("SubmitForm", description="Contacto"),
    simple("Contact"),
    simple("Download", description="catalogo.pdf"),
    simple("Subscribe", value=99, currency="MXN"),
    simple("PlaceAnOrder", value=10, currency="MXN", items=[{"sku": "X1"}]),
    simple("Lead"),
    custom_nested,
    free_trial,
    customer_tags,
]
RARE: list[Template] = [
    audience("calculate"),
    audience("delete"),
    invalid_purchase,
    too_old,
    too_old_iso,
    refused_by_tiktok,
]


def sample_events(now: float, total: int) -> Iterator[tuple[str, Any]]:
    """(destination, event) pairs: ``total`` events over the three demo brands.

    The rare kinds (audiences, invalid, too old, refused) appear once each for brand-a;
    a couple of non-JSON-object events too; everything else cycles over the templates.
    """
    serial = 0
    for template in RARE:
        serial += 1
        yield "brand-a", template(now, serial)
    for junk in (["not", "an", "object"], {"no_type": True}):
        serial += 1
        yield "brand-a", junk
    bad_brand = max(1, total // 50)
    for _ in range(bad_brand):
        serial += 1
        yield "brand-bad", view_item(now, serial)
    remaining = max(0, total - serial)
    for k in range(remaining):
        serial += 1
        yield ("brand-a" if k % 3 else "brand-b"), TEMPLATES[k % len(TEMPLATES)](now, serial)
