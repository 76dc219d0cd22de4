-- weir: kind=incremental, unique_key=sale_date, watermark=updated_at, lookback=1 hour
-- weir: tags="marts aggregates orders"
-- weir: description="Sales per UTC day: orders, lines, units and revenue in cents, cancelled orders apart."
--
-- Incremental by day: a build finds the days with a fact row changed since
-- weir.since() (new lines, late orders, status changes) through the fact's updated_at
-- index, then aggregates all facts of those days through its order_date index and
-- upserts them whole. Built from scratch (weir.since() is -infinity) it aggregates every
-- fact instead. The two branches are gated on weir.since(), which Weir passes to
-- PostgreSQL as a literal, so the planner drops the branch that does not apply.
-- The lookback is at least the fact's, so a fact row that arrives late there is still seen.
--
-- The changed days are an array (= any(array(...))) rather than IN (SELECT ...): for IN
-- the planner guesses the number of days from the column's statistics (every day, 730,
-- where a batch touches a handful), so it reads the whole fact, in a plan costly enough
-- to be JIT-compiled with inlining; for an array it guesses a few values and uses the
-- order_date index, whose Bitmap Index Scan looks each day up once. EXPLAIN ANALYZE on
-- PostgreSQL 15: 2M facts, 12 changed days: array 42 ms, IN 218 ms; 10M facts, 80
-- changed days: array 1.1-1.5 s, IN 2.5-3.5 s (1.2 s of it JIT). The one plan to avoid is
-- a Seq Scan with `Filter: (order_date = ANY ($0))`: PostgreSQL 15 hashes only a constant
-- array, so there every row is compared with every changed day.
SELECT
    f.order_date AS sale_date, -- The UTC day the orders were placed: one row per day.
    f.date_key, -- dim_date's key (YYYYMMDD).
    count(DISTINCT f.order_id) FILTER (WHERE f.order_status <> 'cancelled') AS orders, -- Orders placed that day, cancelled ones apart.
    count(*) FILTER (WHERE f.order_status <> 'cancelled') AS order_lines, -- Order lines of those orders.
    coalesce(sum(f.quantity) FILTER (WHERE f.order_status <> 'cancelled'), 0) AS units, -- Units ordered.
    coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status <> 'cancelled'), 0) AS revenue_cents, -- Revenue in cents.
    count(DISTINCT f.order_id) FILTER (WHERE f.order_status = 'cancelled') AS cancelled_orders, -- Orders placed that day and since cancelled.
    coalesce(sum(f.line_total_cents) FILTER (WHERE f.order_status = 'cancelled'), 0) AS cancelled_cents, -- What the cancelled orders came to, in cents.
    max(f.updated_at) AS updated_at -- Newest updated_at of the day's facts: the watermark.
FROM (
    SELECT
        a.order_date,
        a.date_key,
        a.order_id,
        a.order_status,
        a.quantity,
        a.line_total_cents,
        a.updated_at
    FROM marts.fact_order_items AS a
    WHERE weir.since('marts.agg_daily_sales') = '-infinity'
    UNION ALL
    SELECT
        c.order_date,
        c.date_key,
        c.order_id,
        c.order_status,
        c.quantity,
        c.line_total_cents,
        c.updated_at
    FROM marts.fact_order_items AS c
    WHERE
        weir.since('marts.agg_daily_sales') > '-infinity'
        AND c.order_date = any(array(
            SELECT DISTINCT changed.order_date
            FROM marts.fact_order_items AS changed
            WHERE changed.updated_at > weir.since('marts.agg_daily_sales')
        ))
) AS f
GROUP BY f.order_date, f.date_key;
