-- weir: kind=view, tags="staging customers"
-- weir: description="Customers as the source system has them now, one row per account (raw.customers)."
SELECT
    c.customer_id,
    c.email,
    c.full_name,
    c.city,
    c.country,
    c.created_at,
    c.updated_at
FROM raw.customers AS c;
