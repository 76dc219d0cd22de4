-- weir: tags="raw orders freshness"
-- weir: description="Order lines keep up with orders: the newest line is at most an hour older than the newest order."
-- Freshness relative to the data, not the wall clock: the sample data ends at a fixed
-- instant, so "newer than now() - 1 day" would always fail on it. The allowed age is
-- now() minus the newest order plus an hour, i.e. lines may lag orders by an hour.
-- In production, weir.freshness('raw.order_items', 'created_at', '1 hour') checks
-- against the clock instead.
SELECT * FROM weir.freshness(
    'raw.order_items', 'created_at',
    now() - (SELECT max(o.created_at) FROM raw.orders AS o) + interval '1 hour'
);
