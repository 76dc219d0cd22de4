// A type-level test of TYPE-CONTRACTS.ts: what an application reading and writing the example
// warehouse writes. `make docs-proofs` compiles it with `tsc --strict --noEmit` beside the contracts
// `weir docs` generates; a renamed or removed field, or a changed type, fails the compilation.
// Each `@ts-expect-error` line must fail to compile: it proves a rule of the contract.
import type {
  CreateRawOrdersDTO, JsonValue, MartsDimCustomer, MartsFactOrderItems, RawOrders, UpdateRawOrdersDTO,
} from "./TYPE-CONTRACTS";
import { MartsFactOrderItemsFields, RawOrdersFields } from "./TYPE-CONTRACTS";

type Status = "placed" | "paid" | "shipped" | "delivered" | "cancelled";

export function orderLabel(order: RawOrders): string {
  const id: string = order.orderId; // bigint is a string: no precision lost
  const status: Status = order.status; // the CHECK ... IN list is a union
  return `${id} ${status} ${order.orderedAt} ${order.customerId}`;
}

export function lineTotal(item: MartsFactOrderItems): bigint | null {
  return item.lineTotalCents === null ? null : BigInt(item.lineTotalCents);
}

export function isCurrent(customer: MartsDimCustomer): boolean {
  return customer.isCurrent === true && customer.validTo === null;
}

export const newOrder: CreateRawOrdersDTO = { customerId: "42", orderedAt: "2026-12-04T13:00:00Z" };
export const explicitOrder: CreateRawOrdersDTO = {
  orderId: "9007199254740993", customerId: "42", status: "paid", orderedAt: "2026-12-04T13:00:00Z",
};
export const paid: UpdateRawOrdersDTO = { status: "paid" };

// A field map names each field's column, typed as the literal.
export const statusColumn: "status" = RawOrdersFields.status;
export const orderedAtColumn: "ordered_at" = RawOrdersFields.orderedAt;
export const lineTotalColumn: "line_total_cents" = MartsFactOrderItemsFields.lineTotalCents;
export const columns: string[] = Object.values(RawOrdersFields);

export const payload: JsonValue = { lines: [1, "two", null, { nested: true }] };

// @ts-expect-error customerId is required in a new order (NOT NULL, no default)
export const missingCustomer: CreateRawOrdersDTO = { orderedAt: "2026-12-04T13:00:00Z" };
// @ts-expect-error the primary key is not in the Update DTO
export const changedKey: UpdateRawOrdersDTO = { orderId: "1" };
// @ts-expect-error status is one of the CHECK's values
export const badStatus: UpdateRawOrdersDTO = { status: "lost" };
// @ts-expect-error a bigint is a string, never a number
export const numericCustomer: CreateRawOrdersDTO = { customerId: 42, orderedAt: "2026-12-04T13:00:00Z" };
// @ts-expect-error a NOT NULL column's field is never null
export const nullStatus: RawOrders["status"] = null;
// @ts-expect-error a field that is not in the contract does not exist
export const unknownField = (order: RawOrders): unknown => order.order_id;
