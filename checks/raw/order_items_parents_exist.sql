-- weir: tags="raw orders products"
-- weir: description="Every order line belongs to an order of raw.orders and names a product of raw.products."
SELECT * FROM weir.relationships(NULL::raw.order_items, 'order_id', 'raw.orders', 'order_id')
UNION ALL
SELECT * FROM weir.relationships(NULL::raw.order_items, 'product_id', 'raw.products', 'product_id');
