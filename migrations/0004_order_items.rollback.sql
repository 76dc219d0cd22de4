-- Undo 0004_order_items.sql.

DROP TABLE raw.order_items;
