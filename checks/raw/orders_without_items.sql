-- weir: warn_if="> 0", error_if="> 100"
-- weir: tags="raw orders"
-- weir: description="Orders with no order lines: they add nothing to revenue and never reach the fact."
-- The shop writes an order with its lines in one transaction, so a few are a glitch worth
-- a look (warn) and many mean lines are being lost on the way (fail).
SELECT
    o.order_id,
    o.customer_id,
    o.status,
    o.ordered_at,
    o.created_at
FROM raw.orders AS o
WHERE
    NOT EXISTS (
        SELECT FROM raw.order_items AS i
        WHERE i.order_id = o.order_id
    )
ORDER BY o.order_id;
