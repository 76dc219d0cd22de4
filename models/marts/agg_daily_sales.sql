-- weir: kind=incremental, unique_key=sale_date, watermark=updated_at, lookback=1 hour
-- weir: tags="marts aggregates orders"
-- weir: description="Sales per UTC day: orders, lines, units and revenue in cents, cancelled orders apart."
--
-- Incremental by day: a build finds the days with a fact row changed since
-- weir.since() (new lines, late orders, status changes), then aggregates all facts of
-- those days and upserts them whole. Built from scratch (weir.since() is -infinity) it
-- aggregates every day without looking for changed ones first. The lookback is at least
-- the fact's, so a fact row that arrives late there is still seen here.
--
-- weir.since() is in a scalar subquery, computed once: the fact has no index on
-- updated_at, so the scan would otherwise evaluate it for every row.
WITH changed_days AS (
    SELECT DISTINCT f.order_date
    FROM marts.fact_order_items AS f
    WHERE f.updated_at > (SELECT weir.since('marts.agg_daily_sales'))
)

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
WHERE
    (SELECT weir.since('marts.agg_daily_sales')) = '-infinity'
    OR f.order_date IN (SELECT d.order_date FROM changed_days AS d)
GROUP BY f.order_date, f.date_key;
