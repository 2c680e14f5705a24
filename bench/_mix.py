"""Pieces of the realistic event mix shared by the bench scripts (one copy of each)."""

from __future__ import annotations

import random
from typing import Any

__all__ = ["customer", "product"]


def customer(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "customer_id": f"cus_{index:06d}",
        "customer": {
            "email": f"Customer.{index}@Mail.com ",
            "phone": f"+52 55 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
        },
        "context": {
            "ip": f"203.0.113.{index % 250}",
            "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
            "page_url": f"https://shop.example.mx/p/{index}?ttclid=E.C.P.{index}",
        },
    }


def product(rng: random.Random) -> dict[str, Any]:
    amount = rng.randint(1, 3)
    unit = round(rng.uniform(50, 900), 2)
    return {
        "sku": f"SKU-{rng.randint(1, 5000)}",
        "name": "Playera básica",
        "amount": amount,
        "value": round(unit * amount, 2),
        "category": "Ropa",
        "brand": "Acme",
    }
