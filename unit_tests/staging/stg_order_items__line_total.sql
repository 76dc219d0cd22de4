-- weir: model=staging.stg_order_items
-- weir: description="line_total_cents is quantity times the unit price charged."

-- weir: given=raw.order_items
SELECT 1 AS order_item_id, 10 AS order_id, 3 AS quantity, 250 AS unit_price_cents
UNION ALL SELECT 2, 10, 1, 999;

-- weir: expect
SELECT 1 AS order_item_id, 10 AS order_id, 3 AS quantity, 250 AS unit_price_cents, 750 AS line_total_cents
UNION ALL SELECT 2, 10, 1, 999, 999;
