-- weir: tags="marts facts"
-- weir: description="Fact order statuses are the five agg_daily_sales knows how to count."
SELECT * FROM weir.accepted_values(
    NULL::marts.fact_order_items, 'order_status', ARRAY['placed', 'paid', 'shipped', 'delivered', 'cancelled']
);
