-- weir: kind=view, tags="staging orders"
-- weir: description="Orders with their current status; order_date is the UTC day the order was placed."
-- The day is taken in UTC explicitly, so dates never depend on a session's TimeZone.
SELECT
    o.order_id, -- The order's key in the source system.
    o.customer_id, -- The customer who placed the order.
    o.status AS order_status, -- placed, paid, shipped, delivered or cancelled.
    o.ordered_at, -- When the order was placed.
    o.created_at, -- When the order's row was written (may lag ordered_at).
    o.updated_at, -- When the order last changed, e.g. a new status.
    (o.ordered_at AT TIME ZONE 'UTC')::date AS order_date -- The UTC day the order was placed.
FROM raw.orders AS o;
