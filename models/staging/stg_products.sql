-- weir: kind=view, tags="staging products"
-- weir: description="Products at their current list price, one row per product (raw.products)."
SELECT
    p.product_id,
    p.sku,
    p.name AS product_name,
    p.category,
    p.price_cents AS list_price_cents,
    p.created_at,
    p.updated_at
FROM raw.products AS p;
