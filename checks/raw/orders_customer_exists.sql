-- weir: tags="raw orders customers"
-- weir: description="Every order's customer_id is a customer of raw.customers."
-- Deleting a customer who ordered must fail in the source (ON DELETE RESTRICT); an order
-- found here lost its customer, and its fact rows would have no customer version.
SELECT * FROM weir.relationships(NULL::raw.orders, 'customer_id', 'raw.customers', 'customer_id');
