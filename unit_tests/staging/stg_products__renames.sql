-- weir: model=staging.stg_products
-- weir: description="Source columns renamed: name -> product_name, price_cents -> list_price_cents."

-- weir: given=raw.products
SELECT 1 AS product_id, 'SKU-1' AS sku, 'Kettle' AS name, 'kitchen' AS category, 2599 AS price_cents
UNION ALL SELECT 2, 'SKU-2', 'Lamp', 'home', 1250;

-- weir: expect
SELECT 1 AS product_id, 'SKU-1' AS sku, 'Kettle' AS product_name, 'kitchen' AS category, 2599 AS list_price_cents
UNION ALL SELECT 2, 'SKU-2', 'Lamp', 'home', 1250;
