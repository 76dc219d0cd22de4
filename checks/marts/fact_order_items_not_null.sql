-- weir: tags="marts facts", show=20
-- weir: description="Fact rows have every key and measure; a NULL customer_key is an order with no customer version."
-- The fact joins dim_customer with a LEFT JOIN on purpose: a line whose customer has no
-- version valid at ordered_at keeps its row, with a NULL customer_key, and shows up here
-- instead of vanishing from revenue.
SELECT * FROM weir.not_null(
    NULL::marts.fact_order_items,
    ARRAY[
        'order_id', 'customer_key', 'customer_id', 'product_key', 'order_date', 'ordered_at',
        'order_status', 'quantity', 'unit_price_cents', 'line_total_cents', 'date_key', 'updated_at'
    ]
);
