-- transactional: false
-- Undo 0005_orders_ordered_at_index.sql without blocking writes to raw.orders.

DROP INDEX CONCURRENTLY raw.orders_ordered_at_idx;
