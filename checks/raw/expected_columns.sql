-- weir: tags="raw schema"
-- weir: description="The raw columns the models read exist with the types they expect."
-- Extra columns are fine (allow_extra defaults to true): the source may grow.
SELECT * FROM weir.expected_columns('raw.customers', '{
    "customer_id": "bigint", "email": "text", "full_name": "text", "city": "text", "country": "text",
    "created_at": "timestamptz", "updated_at": "timestamptz"
}')
UNION ALL
SELECT * FROM weir.expected_columns('raw.products', '{
    "product_id": "bigint", "sku": "text", "name": "text", "category": "text", "price_cents": "bigint",
    "created_at": "timestamptz", "updated_at": "timestamptz"
}')
UNION ALL
SELECT * FROM weir.expected_columns('raw.orders', '{
    "order_id": "bigint", "customer_id": "bigint", "status": "text", "ordered_at": "timestamptz",
    "created_at": "timestamptz", "updated_at": "timestamptz"
}')
UNION ALL
SELECT * FROM weir.expected_columns('raw.order_items', '{
    "order_item_id": "bigint", "order_id": "bigint", "product_id": "bigint", "quantity": "integer",
    "unit_price_cents": "bigint", "created_at": "timestamptz", "updated_at": "timestamptz"
}');
