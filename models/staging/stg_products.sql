-- weir: kind=view, tags="staging products"
-- weir: description="Products at their current list price, one row per product (raw.products)."
SELECT
    p.product_id, -- The product's key in the source system.
    p.sku, -- Stock keeping unit.
    p.name AS product_name, -- Product name.
    p.category, -- Product category.
    p.price_cents AS list_price_cents, -- Current list price in cents.
    p.created_at, -- When the product's row was written.
    p.updated_at -- When the product last changed, e.g. a new price.
FROM raw.products AS p;
