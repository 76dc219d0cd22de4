-- weir: tags="reconciliation revenue aggregates", show=20
-- weir: description="agg_daily_sales, kept incrementally, equals the fact summed per day from scratch."
-- The rollup recomputes only days whose facts changed; a day it missed (or one it has and
-- the fact does not) shows here with both sides.
WITH fact_days AS (
    SELECT
        f.order_date AS sale_date,
        count(DISTINCT f.order_id) FILTER (WHERE f.order_status <> 'cancelled') AS orders,
        count(*) FILTER (WHERE f.order_status <> 'cancelled') AS order_lines,
        coalesce(sum(f.quantity) FILTER (WHERE f.order_status <> 'cancelled'), 0) AS units,
        coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status <> 'cancelled'), 0) AS revenue_cents,
        coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status = 'cancelled'), 0) AS cancelled_cents
    FROM marts.fact_order_items AS f
    GROUP BY f.order_date
),

days AS (
    SELECT a.sale_date FROM marts.agg_daily_sales AS a
    UNION
    SELECT f.sale_date FROM fact_days AS f
)

SELECT
    d.sale_date,
    a.orders AS agg_orders,
    f.orders AS fact_orders,
    a.order_lines AS agg_lines,
    f.order_lines AS fact_lines,
    a.units AS agg_units,
    f.units AS fact_units,
    a.revenue_cents AS agg_revenue_cents,
    f.revenue_cents AS fact_revenue_cents,
    a.cancelled_cents AS agg_cancelled_cents,
    f.cancelled_cents AS fact_cancelled_cents
FROM days AS d
LEFT JOIN marts.agg_daily_sales AS a ON d.sale_date = a.sale_date
LEFT JOIN fact_days AS f ON d.sale_date = f.sale_date
WHERE
    a.orders IS DISTINCT FROM f.orders
    OR a.order_lines IS DISTINCT FROM f.order_lines
    OR a.units IS DISTINCT FROM f.units
    OR a.revenue_cents IS DISTINCT FROM f.revenue_cents
    OR a.cancelled_cents IS DISTINCT FROM f.cancelled_cents
ORDER BY d.sale_date;
