-- weir: model=marts.agg_daily_sales
-- weir: watermark='2024-03-05 00:00+00'
-- weir: description="An incremental run re-aggregates every fact of a day that has a changed fact, and only those days."

-- weir: given=this
SELECT '2024-03-01' AS sale_date, 1 AS orders, 1000 AS revenue_cents, '2024-03-01 10:00+00' AS updated_at
UNION ALL SELECT '2024-03-02', 1, 900, '2024-03-02 08:00+00';

-- weir: given=marts.fact_order_items
SELECT 1 AS order_item_id, 10 AS order_id, '2024-03-01' AS order_date, 'shipped' AS order_status,
    1000 AS line_total_cents, '2024-03-01 10:00+00' AS updated_at
UNION ALL SELECT 2, 13, '2024-03-01', 'shipped', 500, '2024-03-06 09:00+00'
UNION ALL SELECT 4, 12, '2024-03-02', 'placed', 999, '2024-03-02 08:00+00';

-- weir: expect
SELECT '2024-03-01' AS sale_date, 2 AS orders, 1500 AS revenue_cents, '2024-03-06 09:00+00' AS updated_at
UNION ALL SELECT '2024-03-02', 1, 900, '2024-03-02 08:00+00';
