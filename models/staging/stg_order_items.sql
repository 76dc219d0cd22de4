-- weir: kind=view, tags="staging orders"
-- weir: description="Order lines at the price charged; line_total_cents = quantity * unit_price_cents."
SELECT
    i.order_item_id,
    i.order_id,
    i.product_id,
    i.quantity,
    i.unit_price_cents,
    i.created_at,
    i.updated_at,
    i.quantity * i.unit_price_cents AS line_total_cents
FROM raw.order_items AS i;
