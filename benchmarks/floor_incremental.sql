-- The incremental floor of benchmarks/build.py: after a change batch, bring what
-- floor_build.sql built up to date by hand, doing the same work `weir build` does:
--   psql -X -q -v ON_ERROR_STOP=1 -d DATABASE -f benchmarks/floor_incremental.sql
-- dim_customer: close changed and deleted versions, open new ones; dim_product and dim_date:
-- rebuilt whole; fact_order_items: upsert the lines (or lines of orders) changed since its
-- watermark minus the lookback; agg_daily_sales: re-aggregate the days those facts touched
-- (found as models/marts/agg_daily_sales.sql finds them, through an array of days).
-- Each upsert moves its watermark in the same statement.

BEGIN;
-- One pass finds new, changed and returning customers, and current versions of deleted ones.
CREATE TEMPORARY TABLE customer_delta ON COMMIT DROP AS
SELECT s.*, c.customer_key AS current_key, s.customer_id IS NULL AS gone
FROM staging.stg_customers AS s
FULL JOIN (SELECT * FROM marts.dim_customer WHERE is_current) AS c ON s.customer_id = c.customer_id
WHERE c.customer_key IS NULL OR s.customer_id IS NULL OR s.updated_at > c.updated_at;
UPDATE marts.dim_customer AS t SET valid_to = CASE WHEN d.gone THEN now() ELSE d.updated_at END
FROM customer_delta AS d
WHERE t.customer_key = d.current_key;
-- A customer who comes back starts no earlier than their last version closed.
INSERT INTO marts.dim_customer (customer_id, email, full_name, city, country, created_at, updated_at, valid_from)
SELECT
    d.customer_id,
    CASE WHEN position('@' IN d.email) > 1 THEN left(d.email, 1) || '***@' || split_part(d.email, '@', -1)
         WHEN d.email IS NOT NULL THEN '***' END,
    d.full_name, d.city, d.country, d.created_at, d.updated_at,
    greatest(d.updated_at, h.last_to)
FROM customer_delta AS d
CROSS JOIN LATERAL (
    SELECT max(h.valid_to) AS last_to FROM marts.dim_customer AS h
    WHERE d.current_key IS NULL AND h.customer_id = d.customer_id
) AS h
WHERE NOT d.gone;
COMMIT;

BEGIN;
DROP TABLE marts.dim_product;
CREATE TABLE marts.dim_product AS
SELECT
    p.product_id AS product_key, p.product_id, p.sku, p.product_name, p.category, p.list_price_cents,
    p.created_at, p.updated_at
FROM staging.stg_products AS p;
COMMIT;

BEGIN;
DROP TABLE marts.dim_date;
CREATE TABLE marts.dim_date AS
SELECT
    d.date_day,
    to_char(d.date_day, 'YYYYMMDD')::integer AS date_key,
    extract(YEAR FROM d.date_day)::integer AS year_number,
    extract(QUARTER FROM d.date_day)::integer AS quarter_number,
    extract(MONTH FROM d.date_day)::integer AS month_number,
    to_char(d.date_day, 'FMMonth') AS month_name,
    extract(DAY FROM d.date_day)::integer AS day_of_month,
    extract(ISODOW FROM d.date_day)::integer AS iso_day_of_week,
    to_char(d.date_day, 'FMDay') AS day_name,
    extract(WEEK FROM d.date_day)::integer AS iso_week_number,
    extract(ISODOW FROM d.date_day) IN (6, 7) AS is_weekend
FROM (
    SELECT (b.first_day + s.n)::date AS date_day
    FROM
        (
            SELECT
                date_trunc('year', min(o.ordered_at) AT TIME ZONE 'UTC')::date AS first_day,
                (date_trunc('year', max(o.ordered_at) AT TIME ZONE 'UTC') + interval '1 year')::date AS after_last
            FROM staging.stg_orders AS o
        ) AS b,
        generate_series(0, b.after_last - b.first_day - 1) AS s (n)
) AS d;
COMMIT;

SELECT watermark - interval '1 hour' AS since FROM marts.floor_watermark WHERE model = 'fact_order_items' \gset
WITH upserted AS (
INSERT INTO marts.fact_order_items AS t
WITH changed_lines AS (
    SELECT i.*, o.customer_id, o.order_status, o.ordered_at, o.order_date, o.updated_at AS order_updated_at
    FROM staging.stg_order_items AS i
    INNER JOIN staging.stg_orders AS o ON i.order_id = o.order_id
    WHERE i.updated_at > :'since'
    UNION ALL
    SELECT i.*, o.customer_id, o.order_status, o.ordered_at, o.order_date, o.updated_at
    FROM staging.stg_orders AS o
    INNER JOIN staging.stg_order_items AS i ON o.order_id = i.order_id
    WHERE o.updated_at > :'since' AND i.updated_at <= :'since'
),
customer_versions AS (
    SELECT
        d.customer_key,
        d.customer_id,
        d.valid_to,
        CASE
            WHEN d.valid_from = min(d.valid_from) OVER (PARTITION BY d.customer_id) THEN '-infinity'::timestamptz
            ELSE d.valid_from
        END AS valid_from
    FROM marts.dim_customer AS d
)
SELECT
    l.order_item_id,
    l.order_id,
    c.customer_key,
    l.customer_id,
    l.product_id,
    l.order_date,
    l.ordered_at,
    l.order_status,
    l.quantity,
    l.unit_price_cents,
    l.line_total_cents,
    to_char(l.order_date, 'YYYYMMDD')::integer,
    greatest(l.updated_at, l.order_updated_at)
FROM changed_lines AS l
LEFT JOIN customer_versions AS c
    ON l.customer_id = c.customer_id AND l.ordered_at >= c.valid_from AND (l.ordered_at < c.valid_to OR c.valid_to IS NULL)
ON CONFLICT (order_item_id) DO UPDATE SET
    order_id = excluded.order_id,
    customer_key = excluded.customer_key,
    customer_id = excluded.customer_id,
    product_key = excluded.product_key,
    order_date = excluded.order_date,
    ordered_at = excluded.ordered_at,
    order_status = excluded.order_status,
    quantity = excluded.quantity,
    unit_price_cents = excluded.unit_price_cents,
    line_total_cents = excluded.line_total_cents,
    date_key = excluded.date_key,
    updated_at = excluded.updated_at
WHERE (t.order_status, t.customer_key, t.updated_at) IS DISTINCT FROM (excluded.order_status, excluded.customer_key, excluded.updated_at)
RETURNING t.updated_at
)
UPDATE marts.floor_watermark SET watermark = greatest(watermark, (SELECT max(u.updated_at) FROM upserted AS u))
WHERE model = 'fact_order_items';

SELECT watermark - interval '1 hour' AS since FROM marts.floor_watermark WHERE model = 'agg_daily_sales' \gset
WITH upserted AS (
INSERT INTO marts.agg_daily_sales AS t
SELECT
    f.order_date,
    f.date_key,
    count(DISTINCT f.order_id) FILTER (WHERE f.order_status <> 'cancelled'),
    count(*) FILTER (WHERE f.order_status <> 'cancelled'),
    coalesce(sum(f.quantity) FILTER (WHERE f.order_status <> 'cancelled'), 0),
    coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status <> 'cancelled'), 0),
    count(DISTINCT f.order_id) FILTER (WHERE f.order_status = 'cancelled'),
    coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status = 'cancelled'), 0),
    max(f.updated_at)
FROM marts.fact_order_items AS f
WHERE f.order_date = any(array(SELECT DISTINCT c.order_date FROM marts.fact_order_items AS c WHERE c.updated_at > :'since'))
GROUP BY f.order_date, f.date_key
ON CONFLICT (sale_date) DO UPDATE SET
    date_key = excluded.date_key,
    orders = excluded.orders,
    order_lines = excluded.order_lines,
    units = excluded.units,
    revenue_cents = excluded.revenue_cents,
    cancelled_orders = excluded.cancelled_orders,
    cancelled_cents = excluded.cancelled_cents,
    updated_at = excluded.updated_at
WHERE t.updated_at IS DISTINCT FROM excluded.updated_at OR t.orders IS DISTINCT FROM excluded.orders
RETURNING t.updated_at
)
UPDATE marts.floor_watermark SET watermark = greatest(watermark, (SELECT max(u.updated_at) FROM upserted AS u))
WHERE model = 'agg_daily_sales';
