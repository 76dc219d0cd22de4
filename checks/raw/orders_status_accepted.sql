-- weir: tags="raw orders"
-- weir: description="Order statuses are the five the warehouse knows: placed, paid, shipped, delivered, cancelled."
-- A new status in the source must reach agg_daily_sales' cancelled/not-cancelled split
-- on purpose, not by accident: add it here when the models handle it.
SELECT * FROM weir.accepted_values(
    NULL::raw.orders, 'status', ARRAY['placed', 'paid', 'shipped', 'delivered', 'cancelled']
);
