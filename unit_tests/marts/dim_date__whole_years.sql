-- weir: model=marts.dim_date
-- weir: description="Every day of each year with orders, Jan 1 to Dec 31, keyed YYYYMMDD."

-- weir: given=staging.stg_orders
SELECT 10 AS order_id, '2024-03-01 12:00+00' AS ordered_at
UNION ALL SELECT 11, '2024-11-30 12:00+00';

-- weir: expect
SELECT
    d.day::date AS date_day,
    replace(d.day::date::text, '-', '')::integer AS date_key,
    extract(DOW FROM d.day) IN (0, 6) AS is_weekend
FROM generate_series('2024-01-01'::timestamp, '2024-12-31', interval '1 day') AS d (day);
