-- weir: model=marts.fact_order_items
-- weir: watermark='2024-03-01 12:00+00'
-- weir: description="An incremental run: late lines within the lookback, changed lines and orders, nothing else."
-- The stored watermark is 12:00 and the lookback 1 hour, so the run reads rows changed after 11:00:
-- * line 1 changed at 11:30 (late, within the lookback): updated;
-- * line 2 last changed in February: not read, its stored row stays as it was;
-- * line 3 is new: inserted;
-- * order 12 was cancelled at 13:00, its line 5 unchanged since January: the order's new status is applied.

-- weir: given=this
SELECT 1 AS order_item_id, 10 AS order_id, 1 AS quantity, 500 AS line_total_cents, 'placed' AS order_status,
    '2024-03-01 09:00+00' AS updated_at
UNION ALL SELECT 2, 10, 1, 200, 'placed', '2024-02-01 09:00+00'
UNION ALL SELECT 5, 12, 1, 700, 'placed', '2024-01-05 09:00+00';

-- weir: given=staging.stg_order_items
SELECT 1 AS order_item_id, 10 AS order_id, 2 AS quantity, 1000 AS line_total_cents, '2024-03-01 11:30+00' AS updated_at
UNION ALL SELECT 2, 10, 9, 9999, '2024-02-01 09:00+00'
UNION ALL SELECT 3, 11, 1, 300, '2024-03-01 12:30+00'
UNION ALL SELECT 5, 12, 1, 700, '2024-01-05 09:00+00';

-- weir: given=staging.stg_orders
SELECT 10 AS order_id, 'placed' AS order_status, '2024-01-05 08:00+00' AS ordered_at, '2024-01-05' AS order_date,
    '2024-01-05 08:00+00' AS updated_at
UNION ALL SELECT 11, 'placed', '2024-03-01 12:30+00', '2024-03-01', '2024-03-01 12:30+00'
UNION ALL SELECT 12, 'cancelled', '2024-01-05 08:00+00', '2024-01-05', '2024-03-01 13:00+00';

-- weir: expect
SELECT 1 AS order_item_id, 2 AS quantity, 1000 AS line_total_cents, 'placed' AS order_status,
    '2024-03-01 11:30+00' AS updated_at
UNION ALL SELECT 2, 1, 200, 'placed', '2024-02-01 09:00+00'
UNION ALL SELECT 3, 1, 300, 'placed', '2024-03-01 12:30+00'
UNION ALL SELECT 5, 1, 700, 'cancelled', '2024-03-01 13:00+00';
