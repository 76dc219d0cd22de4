-- weir: model=marts.dim_product
-- A product's key is its source id; its name and list price come through as they are.

-- weir: given=staging.stg_products
SELECT 1 AS product_id, 'SKU-1' AS sku, 'Kettle' AS product_name, 2599 AS list_price_cents
UNION ALL SELECT 2, 'SKU-2', 'Teapot', 1999;

-- weir: expect
SELECT 1 AS product_key, 1 AS product_id, 'Kettle' AS product_name, 2599 AS list_price_cents
UNION ALL SELECT 2, 2, 'Teapot', 1999;
