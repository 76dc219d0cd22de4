"""A type-level test of contracts.py: what Python code reading and writing the example warehouse writes.

`make docs-proofs` runs `mypy --strict` on it beside the contracts.py `weir docs` generates; a renamed or
removed field, or a changed type, fails it. Each `# type: ignore[code]` line must be an error of that
code (--strict reports an ignore that is not needed): it proves a rule of the contract.
"""

from __future__ import annotations

import datetime
from typing import Literal

from contracts import (
    CreateRawOrdersDTO,
    JsonValue,
    MartsDimCustomer,
    MartsFactOrderItems,
    MartsFactOrderItemsFields,
    RawOrders,
    RawOrdersFields,
    UpdateRawOrdersDTO,
)

Status = Literal["placed", "paid", "shipped", "delivered", "cancelled"]


def order_label(order: RawOrders) -> str:
    order_id: int = order["order_id"]  # psycopg's int: no precision lost
    status: Status = order["status"]  # the CHECK ... IN list is a Literal
    ordered_at: datetime.datetime = order["ordered_at"]
    return f"{order_id} {status} {ordered_at.isoformat()} {order['customer_id']}"


def line_total(item: MartsFactOrderItems) -> int | None:
    return item["line_total_cents"]


def is_current(customer: MartsDimCustomer) -> bool:
    return customer["is_current"] is True and customer["valid_to"] is None


NEW_ORDER: CreateRawOrdersDTO = {"customer_id": 42, "ordered_at": datetime.datetime(2026, 12, 4, 13, 0)}
PAID: UpdateRawOrdersDTO = {"status": "paid"}

# A field map gives the TypeScript field -> column.
STATUS_COLUMN: str = RawOrdersFields["status"]
LINE_TOTAL_COLUMN: str = MartsFactOrderItemsFields["lineTotalCents"]
PAYLOAD: JsonValue = {"lines": [1, "two", None, {"nested": True}]}

# customer_id is required in a new order (NOT NULL, no default)
MISSING_CUSTOMER: CreateRawOrdersDTO = {"ordered_at": datetime.datetime(2026, 12, 4)}  # type: ignore[typeddict-item]
# the primary key is not in the Update DTO
CHANGED_KEY: UpdateRawOrdersDTO = {"order_id": 1}  # type: ignore[typeddict-unknown-key]
# status is one of the CHECK's values
BAD_STATUS: UpdateRawOrdersDTO = {"status": "lost"}  # type: ignore[typeddict-item]


def unknown_field(order: RawOrders) -> object:
    return order["orderId"]  # type: ignore[typeddict-item]  # camelCase is TypeScript's; rows are keyed by column
