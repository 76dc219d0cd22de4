-- weir: tags="raw orders"
-- weir: description="Orders have a customer, a status and the instant they were placed."
SELECT * FROM weir.not_null(NULL::raw.orders, ARRAY['customer_id', 'status', 'ordered_at']);
