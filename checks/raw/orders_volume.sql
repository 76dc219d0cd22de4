-- weir: severity=warn, tags="raw orders volume"
-- weir: description="Orders written per month are in line with the twelve months before (trend-aware, robust)."
-- as_of is the newest order, not now(): the sample data ends at a fixed instant, and a
-- check against the clock would only ever see empty periods. The month evaluated is the
-- last complete one before the newest order's month. Monthly, because the sample data's
-- change batches write a week's worth of orders in a simulated day: a busy day or week
-- is normal there, a month of them is not. A stopped load is not this check's job:
-- raw/order_items_freshness and marts/fact_order_items_freshness catch that.
SELECT * FROM weir.volume_anomaly(
    'raw.orders', 'created_at',
    period => '1 month', history => 12, min_history => 6,
    as_of => (SELECT max(o.created_at) FROM raw.orders AS o)
);
