-- weir: kind=table, tags="marts dimensions products"
-- weir: description="Products at their current list price; product_key is the source's product_id."
-- Prices charged live on the fact (unit_price_cents), so this dimension needs no history
-- and is rebuilt whole; keying it by product_id keeps fact rows valid across rebuilds.
SELECT
    p.product_id AS product_key, -- Key of the dimension: the source's product_id, stable across rebuilds.
    p.product_id, -- The product in the source system.
    p.sku, -- Stock keeping unit.
    p.product_name, -- Product name.
    p.category, -- Product category.
    p.list_price_cents, -- Current list price in cents (prices charged are on the fact).
    p.created_at, -- When the product was first written in the source.
    p.updated_at -- When the product last changed in the source.
FROM staging.stg_products AS p;
