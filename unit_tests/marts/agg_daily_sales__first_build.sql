-- weir: model=marts.agg_daily_sales
-- weir: description="Per day: orders, lines, units and revenue; cancelled orders counted apart."

-- weir: given=marts.fact_order_items
SELECT 1 AS order_item_id, 10 AS order_id, '2024-03-01' AS order_date, 20240301 AS date_key,
    'shipped' AS order_status, 2 AS quantity, 1000 AS line_total_cents, '2024-03-01 10:00+00' AS updated_at
UNION ALL SELECT 2, 10, '2024-03-01', 20240301, 'shipped', 1, 300, '2024-03-01 11:00+00'
UNION ALL SELECT 3, 11, '2024-03-01', 20240301, 'cancelled', 5, 2500, '2024-03-01 12:00+00'
UNION ALL SELECT 4, 12, '2024-03-02', 20240302, 'placed', 3, 900, '2024-03-02 08:00+00';

-- weir: expect
SELECT '2024-03-01' AS sale_date, 20240301 AS date_key, 1 AS orders, 2 AS order_lines, 3 AS units,
    1300 AS revenue_cents, 1 AS cancelled_orders, 2500 AS cancelled_cents, '2024-03-01 12:00+00' AS updated_at
UNION ALL SELECT '2024-03-02', 20240302, 1, 1, 3, 900, 0, 0, '2024-03-02 08:00+00';
