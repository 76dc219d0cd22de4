-- weir: kind=incremental, unique_key=order_item_id, watermark=updated_at, lookback=1 hour
-- weir: indexes="updated_at; order_date"
-- weir: tags="marts facts orders"
-- weir: description="One row per order line, with the customer version valid when the order was placed."
--
-- Incremental: a build reads only lines whose row or whose order changed since
-- weir.since() (the stored watermark minus the lookback; -infinity when built from
-- scratch), each through its table's updated_at index:
-- * lines written or changed since then (raw.order_items.updated_at);
-- * lines of orders changed since then, e.g. a new status, which moves only
--   raw.orders.updated_at. That branch is off when building from scratch, where the
--   first one already reads every line.
-- The watermark is the later of the two updated_at, so either change moves it.
-- Each branch takes the order's columns from the join it makes anyway, so no line
-- looks its order up a second time.
-- The indexes on updated_at and order_date are agg_daily_sales's way in: the facts that
-- changed since its last build, and every fact of the days they fall on.
--
-- customer_key is point in time: the dim_customer version whose [valid_from, valid_to)
-- holds ordered_at, so a customer moving later does not change facts already placed.
-- A key's first version also covers the time before it: dim_customer starts a key's
-- history at the updated_at it first saw, which is later than the key's older orders
-- when the customer changed before the dimension's first build. Versions of a key
-- follow each other without overlap, so every line finds exactly one version. The join
-- is LEFT so a line whose customer has no version at all keeps its row, with a NULL
-- customer_key where a check finds it, rather than vanishing.
WITH changed_lines AS (
    SELECT
        i.order_item_id,
        i.order_id,
        i.product_id,
        i.quantity,
        i.unit_price_cents,
        i.line_total_cents,
        o.customer_id,
        o.order_date,
        o.ordered_at,
        o.order_status,
        greatest(i.updated_at, o.updated_at) AS updated_at
    FROM staging.stg_order_items AS i
    INNER JOIN staging.stg_orders AS o ON i.order_id = o.order_id
    WHERE i.updated_at > weir.since('marts.fact_order_items')
    UNION ALL
    SELECT
        i.order_item_id,
        i.order_id,
        i.product_id,
        i.quantity,
        i.unit_price_cents,
        i.line_total_cents,
        o.customer_id,
        o.order_date,
        o.ordered_at,
        o.order_status,
        greatest(i.updated_at, o.updated_at) AS updated_at
    FROM staging.stg_orders AS o
    INNER JOIN staging.stg_order_items AS i ON o.order_id = i.order_id
    WHERE
        o.updated_at > weir.since('marts.fact_order_items')
        AND i.updated_at <= weir.since('marts.fact_order_items')
        AND weir.since('marts.fact_order_items') > '-infinity'
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
    l.order_item_id, -- The order line: one fact row each.
    l.order_id, -- The order the line belongs to.
    c.customer_key, -- dim_customer version valid when the order was placed; NULL when none was.
    l.customer_id, -- The customer in the source system.
    l.product_id AS product_key, -- dim_product's key.
    l.order_date, -- The UTC day the order was placed.
    l.ordered_at, -- When the order was placed.
    l.order_status, -- The order's current status.
    l.quantity, -- Units ordered.
    l.unit_price_cents, -- Price charged per unit, in cents.
    l.line_total_cents, -- quantity * unit_price_cents, in cents.
    l.updated_at, -- The later of the line's and its order's updated_at: the watermark.
    to_char(l.order_date, 'YYYYMMDD')::integer AS date_key -- dim_date's key (YYYYMMDD).
FROM changed_lines AS l
LEFT JOIN customer_versions AS c
    ON
        l.customer_id = c.customer_id
        AND l.ordered_at >= c.valid_from
        AND (l.ordered_at < c.valid_to OR c.valid_to IS NULL);
