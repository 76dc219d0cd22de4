-- weir: tags="marts facts dimensions", show=20
-- weir: description="Every fact row's customer_key, product_key and date_key is a row of its dimension."
-- A NULL key is not a violation here (not_null's job): MATCH SIMPLE, as a foreign key.
SELECT * FROM weir.relationships(NULL::marts.fact_order_items, 'customer_key', 'marts.dim_customer', 'customer_key')
UNION ALL
SELECT * FROM weir.relationships(NULL::marts.fact_order_items, 'product_key', 'marts.dim_product', 'product_key')
UNION ALL
SELECT * FROM weir.relationships(NULL::marts.fact_order_items, 'date_key', 'marts.dim_date', 'date_key');
