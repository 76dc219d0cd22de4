-- weir: model=marts.fact_order_items
-- weir: description="First build: every line, with the customer version valid when its order was placed."
-- Customer 7 moved on Feb 1: order 10 (January) keeps version 100, order 11 (February) gets 101.
-- Version 100 also covers the time before its valid_from (order 12, 2023).

-- weir: given=staging.stg_order_items
SELECT 1 AS order_item_id, 10 AS order_id, 2 AS quantity, 500 AS unit_price_cents, 1000 AS line_total_cents,
    '2024-01-15 10:00+00' AS updated_at
UNION ALL SELECT 2, 11, 1, 300, 300, '2024-02-10 10:00+00'
UNION ALL SELECT 3, 12, 4, 100, 400, '2023-12-01 10:00+00';

-- weir: given=staging.stg_orders
SELECT 10 AS order_id, 7 AS customer_id, 'shipped' AS order_status, '2024-01-15 09:00+00' AS ordered_at,
    '2024-01-15' AS order_date, '2024-01-15 09:00+00' AS updated_at
UNION ALL SELECT 11, 7, 'placed', '2024-02-10 09:00+00', '2024-02-10', '2024-02-10 09:00+00'
UNION ALL SELECT 12, 7, 'shipped', '2023-12-01 09:00+00', '2023-12-01', '2023-12-01 09:00+00';

-- weir: given=marts.dim_customer
SELECT 100 AS customer_key, 7 AS customer_id, '2024-01-01 00:00+00' AS valid_from, '2024-02-01 00:00+00' AS valid_to
UNION ALL SELECT 101, 7, '2024-02-01 00:00+00', NULL;

-- weir: expect
SELECT 1 AS order_item_id, 10 AS order_id, 100 AS customer_key, 7 AS customer_id, 1000 AS line_total_cents,
    20240115 AS date_key, '2024-01-15 10:00+00' AS updated_at
UNION ALL SELECT 2, 11, 101, 7, 300, 20240210, '2024-02-10 10:00+00'
UNION ALL SELECT 3, 12, 100, 7, 400, 20231201, '2023-12-01 10:00+00';
