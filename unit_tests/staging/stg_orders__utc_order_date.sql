-- weir: model=staging.stg_orders
-- weir: description="order_date is the UTC day of ordered_at, whatever the offset it was written with."

-- weir: given=raw.orders
SELECT 10 AS order_id, 7 AS customer_id, 'placed' AS status, '2024-03-01 23:30-02' AS ordered_at
UNION ALL SELECT 11, 8, 'shipped', '2024-03-02 00:30+02'
UNION ALL SELECT 12, 9, 'placed', '2024-03-01 23:30+00';

-- weir: expect
SELECT 10 AS order_id, 7 AS customer_id, 'placed' AS order_status, '2024-03-02' AS order_date
UNION ALL SELECT 11, 8, 'shipped', '2024-03-01'
UNION ALL SELECT 12, 9, 'placed', '2024-03-01';
