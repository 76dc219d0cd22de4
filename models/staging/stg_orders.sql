-- weir: kind=view, tags="staging orders"
-- weir: description="Orders with their current status; order_date is the UTC day the order was placed."
-- The day is taken in UTC explicitly, so dates never depend on a session's TimeZone.
SELECT
    o.order_id,
    o.customer_id,
    o.status AS order_status,
    o.ordered_at,
    o.created_at,
    o.updated_at,
    (o.ordered_at AT TIME ZONE 'UTC')::date AS order_date
FROM raw.orders AS o;
