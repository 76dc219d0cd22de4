-- The floor of benchmarks/build.py: the example warehouse built from scratch by hand, the
-- least SQL that produces the same relations, constraints and rows as `weir build`:
--   psql -X -q -v ON_ERROR_STOP=1 -d DATABASE -f benchmarks/floor_build.sql
-- Same SELECTs as models/, without Weir's incremental filters, checks and bookkeeping.
-- Keep it in step with models/ (the benchmark compares the results).

CREATE SCHEMA staging;
CREATE SCHEMA marts;
-- What weir keeps in weir.model_state: the newest updated_at each incremental table holds.
CREATE TABLE marts.floor_watermark (model text PRIMARY KEY, watermark timestamptz NOT NULL);

CREATE VIEW staging.stg_customers AS
SELECT c.customer_id, c.email, c.full_name, c.city, c.country, c.created_at, c.updated_at
FROM raw.customers AS c;

CREATE VIEW staging.stg_products AS
SELECT
    p.product_id, p.sku, p.name AS product_name, p.category, p.price_cents AS list_price_cents,
    p.created_at, p.updated_at
FROM raw.products AS p;

CREATE VIEW staging.stg_orders AS
SELECT
    o.order_id, o.customer_id, o.status AS order_status, o.ordered_at, o.created_at, o.updated_at,
    (o.ordered_at AT TIME ZONE 'UTC')::date AS order_date
FROM raw.orders AS o;

CREATE VIEW staging.stg_order_items AS
SELECT
    i.order_item_id, i.order_id, i.product_id, i.quantity, i.unit_price_cents, i.created_at, i.updated_at,
    i.quantity * i.unit_price_cents AS line_total_cents
FROM raw.order_items AS i;

-- SCD2 history with the constraints Weir gives it; every key's first version starts at its updated_at.
CREATE TABLE marts.dim_customer (
    customer_key bigint GENERATED ALWAYS AS IDENTITY,
    customer_id bigint NOT NULL,
    email text,
    full_name text,
    city text,
    country text,
    created_at timestamptz,
    updated_at timestamptz,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    is_current boolean NOT NULL GENERATED ALWAYS AS (valid_to IS NULL) STORED,
    CONSTRAINT dim_customer_pkey PRIMARY KEY (customer_key),
    CONSTRAINT dim_customer_valid_range CHECK (valid_from < valid_to),
    CONSTRAINT dim_customer_version UNIQUE (customer_id, valid_from)
);
CREATE UNIQUE INDEX dim_customer_current ON marts.dim_customer (customer_id) WHERE is_current;
-- The e-mail masked as weir.mask_email masks it (models/marts/dim_customer.sql).
INSERT INTO marts.dim_customer (customer_id, email, full_name, city, country, created_at, updated_at, valid_from)
SELECT
    c.customer_id,
    CASE WHEN position('@' IN c.email) > 1 THEN left(c.email, 1) || '***@' || split_part(c.email, '@', -1)
         WHEN c.email IS NOT NULL THEN '***' END,
    c.full_name, c.city, c.country, c.created_at, c.updated_at, c.updated_at
FROM staging.stg_customers AS c;

CREATE TABLE marts.dim_product AS
SELECT
    p.product_id AS product_key, p.product_id, p.sku, p.product_name, p.category, p.list_price_cents,
    p.created_at, p.updated_at
FROM staging.stg_products AS p;

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

CREATE TABLE marts.fact_order_items AS
WITH customer_versions AS (
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
    i.order_item_id,
    i.order_id,
    c.customer_key,
    o.customer_id,
    i.product_id AS product_key,
    o.order_date,
    o.ordered_at,
    o.order_status,
    i.quantity,
    i.unit_price_cents,
    i.line_total_cents,
    to_char(o.order_date, 'YYYYMMDD')::integer AS date_key,
    greatest(i.updated_at, o.updated_at) AS updated_at
FROM staging.stg_order_items AS i
INNER JOIN staging.stg_orders AS o ON i.order_id = o.order_id
LEFT JOIN customer_versions AS c
    ON o.customer_id = c.customer_id AND o.ordered_at >= c.valid_from AND (o.ordered_at < c.valid_to OR c.valid_to IS NULL);
ALTER TABLE marts.fact_order_items ADD PRIMARY KEY (order_item_id);
CREATE INDEX fact_order_items_updated_at_idx ON marts.fact_order_items (updated_at);
CREATE INDEX fact_order_items_order_date_idx ON marts.fact_order_items (order_date);
INSERT INTO marts.floor_watermark SELECT 'fact_order_items', max(updated_at) FROM marts.fact_order_items;

CREATE TABLE marts.agg_daily_sales AS
SELECT
    f.order_date AS sale_date,
    f.date_key,
    count(DISTINCT f.order_id) FILTER (WHERE f.order_status <> 'cancelled') AS orders,
    count(*) FILTER (WHERE f.order_status <> 'cancelled') AS order_lines,
    coalesce(sum(f.quantity) FILTER (WHERE f.order_status <> 'cancelled'), 0) AS units,
    coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status <> 'cancelled'), 0) AS revenue_cents,
    count(DISTINCT f.order_id) FILTER (WHERE f.order_status = 'cancelled') AS cancelled_orders,
    coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status = 'cancelled'), 0) AS cancelled_cents,
    max(f.updated_at) AS updated_at
FROM marts.fact_order_items AS f
GROUP BY f.order_date, f.date_key;
ALTER TABLE marts.agg_daily_sales ADD PRIMARY KEY (sale_date);
INSERT INTO marts.floor_watermark SELECT 'agg_daily_sales', max(updated_at) FROM marts.agg_daily_sales;

-- What weir does after building a table from scratch: a quick ANALYZE of the columns the next
-- build filters and joins on (keys, watermark, indexed columns) at statistics target 10, so
-- the first incremental build is planned for the table's real size rather than blind.
SET default_statistics_target = 10;
ANALYZE marts.dim_customer (customer_id, valid_from, valid_to, is_current);
ANALYZE marts.fact_order_items (order_item_id, updated_at, order_date);
ANALYZE marts.agg_daily_sales (sale_date, updated_at);
RESET default_statistics_target;
