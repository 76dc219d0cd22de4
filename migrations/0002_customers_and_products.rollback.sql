-- Undo 0002_customers_and_products.sql; their indexes, triggers and identity
-- sequences go with the tables.

DROP TABLE raw.products;

DROP TABLE raw.customers;
