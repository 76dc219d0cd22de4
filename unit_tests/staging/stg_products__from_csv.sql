-- weir: model=staging.stg_products
-- weir: ordered=true
-- weir: description="Rows from a CSV next to the test (stg_products__from_csv.raw.products.csv); VALUES expected in order."
-- The view has no ORDER BY, so ordered=true holds only while it returns rows as read: a CSV
-- of a few rows is read in file order.

-- weir: expect, columns="product_id sku product_name category list_price_cents"
VALUES
    (1, 'SKU-1', 'Kettle', 'kitchen', 2599),
    (2, 'SKU-2', 'Lamp', NULL, 1250),
    (3, 'SKU-3', 'Mug, large', 'kitchen', 0);
