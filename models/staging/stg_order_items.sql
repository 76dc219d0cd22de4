-- weir: kind=view, tags="staging orders"
-- weir: description="Order lines at the price charged; line_total_cents = quantity * unit_price_cents."
SELECT
    i.order_item_id, -- The order line's key in the source system.
    i.order_id, -- The order the line belongs to.
    i.product_id, -- The product ordered.
    i.quantity, -- Units ordered.
    i.unit_price_cents, -- Price charged per unit, in cents (not the current list price).
    i.created_at, -- When the line was written.
    i.updated_at, -- When the line last changed.
    i.quantity * i.unit_price_cents AS line_total_cents -- quantity * unit_price_cents: what the line costs, in cents.
FROM raw.order_items AS i;
