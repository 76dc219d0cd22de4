-- weir: tags="reconciliation revenue facts", show=20
-- weir: description="Per day, the fact's lines, units and revenue equal raw's: sum(quantity * unit_price_cents) of raw.order_items."
-- The fact keeps every line of raw.order_items (cancelled orders too, with their status),
-- so nothing is excluded on the raw side. Compared per UTC day of ordered_at, as the fact
-- dates its rows, so a difference names the days to rebuild; a day present on one side
-- only shows with NULLs on the other.
WITH raw_days AS (
    SELECT
        (o.ordered_at AT TIME ZONE 'UTC')::date AS order_date,
        count(*) AS line_count,
        sum(i.quantity) AS units,
        sum(i.quantity * i.unit_price_cents) AS revenue_cents
    FROM raw.order_items AS i
    INNER JOIN raw.orders AS o ON i.order_id = o.order_id
    GROUP BY (o.ordered_at AT TIME ZONE 'UTC')::date
),

fact_days AS (
    SELECT
        f.order_date,
        count(*) AS line_count,
        sum(f.quantity) AS units,
        sum(f.line_total_cents) AS revenue_cents
    FROM marts.fact_order_items AS f
    GROUP BY f.order_date
),

days AS (
    SELECT r.order_date FROM raw_days AS r
    UNION
    SELECT f.order_date FROM fact_days AS f
)

SELECT
    d.order_date,
    r.line_count AS raw_lines,
    f.line_count AS fact_lines,
    r.units AS raw_units,
    f.units AS fact_units,
    r.revenue_cents AS raw_revenue_cents,
    f.revenue_cents AS fact_revenue_cents,
    f.revenue_cents - r.revenue_cents AS difference_cents
FROM days AS d
LEFT JOIN raw_days AS r ON d.order_date = r.order_date
LEFT JOIN fact_days AS f ON d.order_date = f.order_date
WHERE
    r.line_count IS DISTINCT FROM f.line_count
    OR r.units IS DISTINCT FROM f.units
    OR r.revenue_cents IS DISTINCT FROM f.revenue_cents
ORDER BY d.order_date;
