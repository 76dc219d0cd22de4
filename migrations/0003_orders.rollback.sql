-- Undo 0003_orders.sql.

DROP TABLE raw.orders;
