-- weir: severity=warn, tags="marts facts volume"
-- weir: description="Order lines per month in the fact are in line with the twelve months before."
-- By ordered_at, so late-arriving orders count in the month they were placed; monthly,
-- so months of 28 to 31 days read as noise and a few late orders do not cry wolf. as_of
-- is the fact's newest order, not now(): the sample data ends at a fixed instant.
SELECT * FROM weir.volume_anomaly(
    'marts.fact_order_items', 'ordered_at',
    period => '1 month', history => 12, min_history => 6,
    as_of => (SELECT max(f.ordered_at) FROM marts.fact_order_items AS f)
);
