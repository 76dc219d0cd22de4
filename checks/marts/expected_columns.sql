-- weir: tags="marts schema"
-- weir: description="The marts' columns and types are what reports rely on; the fact has no others."
-- allow_extra => false on the fact: a new column there is a change reports should hear
-- about. The dimensions may grow.
SELECT * FROM weir.expected_columns('marts.fact_order_items', '{
    "order_item_id": "bigint", "order_id": "bigint", "customer_key": "bigint", "customer_id": "bigint",
    "product_key": "bigint", "order_date": "date", "ordered_at": "timestamptz", "order_status": "text",
    "quantity": "integer", "unit_price_cents": "bigint", "line_total_cents": "bigint", "date_key": "integer",
    "updated_at": "timestamptz"
}', allow_extra => false)
UNION ALL
SELECT * FROM weir.expected_columns('marts.dim_customer', '{
    "customer_key": "bigint", "customer_id": "bigint", "email": "text", "city": "text", "country": "text",
    "valid_from": "timestamptz", "valid_to": "timestamptz", "is_current": "boolean"
}')
UNION ALL
SELECT * FROM weir.expected_columns('marts.dim_product', '{
    "product_key": "bigint", "sku": "text", "product_name": "text", "category": "text", "list_price_cents": "bigint"
}')
UNION ALL
SELECT * FROM weir.expected_columns('marts.dim_date', '{
    "date_day": "date", "date_key": "integer", "year_number": "integer", "month_number": "integer",
    "is_weekend": "boolean"
}')
UNION ALL
SELECT * FROM weir.expected_columns('marts.agg_daily_sales', '{
    "sale_date": "date", "date_key": "integer", "orders": "bigint", "order_lines": "bigint", "units": "bigint",
    "revenue_cents": "numeric", "cancelled_orders": "bigint", "cancelled_cents": "numeric"
}');
