-- weir: kind=table, tags="marts dimensions products"
-- weir: description="Products at their current list price; product_key is the source's product_id."
-- Prices charged live on the fact (unit_price_cents), so this dimension needs no history
-- and is rebuilt whole; keying it by product_id keeps fact rows valid across rebuilds.
SELECT
    p.product_id AS product_key,
    p.product_id,
    p.sku,
    p.product_name,
    p.category,
    p.list_price_cents,
    p.created_at,
    p.updated_at
FROM staging.stg_products AS p;
