-- Load the example warehouse's raw schema with deterministic sample data (runner/sample_data.py).
--
-- Set-based: every row comes from generate_series and hashes of its number, so nothing
-- passes through the client and the same scale always gives the same rows. Expects an
-- empty raw schema, the helpers of sample_functions.sql, TimeZone UTC and two settings:
--   SET weir_sample.scale = 10000;                        -- order items to create
--   SET weir_sample.end_at = '2024-01-01 00:00:00+00';    -- the history's last instant
-- The history spans the 730 days before end_at. Each statement is one step; its
-- `-- step:` comment names it in the generator's progress report.
--
-- Subqueries end in OFFSET 0 so PostgreSQL computes their columns once instead of
-- pasting the expressions into every place that uses them.
--
-- Like pg_restore, the load sets the raw tables' keys and indexes aside, inserts, and
-- then recreates them from their own definitions: one index build and one join per
-- foreign key instead of a lookup per row is ten times faster. It all happens in the
-- load's transaction, so nobody sees the tables without them.

-- step: set_aside_keys
CREATE TEMPORARY TABLE sample_restore (
    position integer GENERATED ALWAYS AS IDENTITY,
    statement text NOT NULL
) ON COMMIT DROP;

-- step: save_definitions
-- Keys first (foreign keys need them), then plain indexes, foreign keys and comments.
INSERT INTO sample_restore (statement)
SELECT d.statement
FROM (
    SELECT
        CASE con.contype WHEN 'f' THEN 3 ELSE 1 END AS phase,
        con.conname::text AS name,
        format(
            'ALTER TABLE %s ADD CONSTRAINT %I %s', con.conrelid::regclass, con.conname, pg_get_constraintdef(con.oid)
        ) AS statement
    FROM pg_constraint AS con
    WHERE con.connamespace = 'raw'::regnamespace AND con.contype IN ('p', 'u', 'f')
    UNION ALL
    SELECT 2, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index AS i
    JOIN pg_class AS c ON c.oid = i.indexrelid
    WHERE
        c.relnamespace = 'raw'::regnamespace
        AND NOT EXISTS (SELECT FROM pg_constraint AS con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
    UNION ALL
    SELECT 4, c.oid::regclass::text, format('COMMENT ON INDEX %s IS %L', c.oid::regclass, d.description)
    FROM pg_class AS c
    JOIN pg_description AS d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
    WHERE c.relnamespace = 'raw'::regnamespace AND c.relkind = 'i'
    UNION ALL
    SELECT 4, con.conname::text, format('COMMENT ON CONSTRAINT %I ON %s IS %L', con.conname, con.conrelid::regclass, d.description)
    FROM pg_constraint AS con
    JOIN pg_description AS d ON d.objoid = con.oid AND d.classoid = 'pg_constraint'::regclass
    WHERE con.connamespace = 'raw'::regnamespace AND con.contype IN ('p', 'u', 'f')
) AS d
ORDER BY d.phase, d.name;

-- step: drop_keys
DO $$
DECLARE
    target record;
BEGIN
    FOR target IN
        SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', con.conrelid::regclass, con.conname) AS statement
        FROM pg_constraint AS con
        WHERE con.connamespace = 'raw'::regnamespace AND con.contype IN ('p', 'u', 'f')
        ORDER BY con.contype = 'f' DESC, con.conname
    LOOP
        EXECUTE target.statement;
    END LOOP;
    FOR target IN
        SELECT format('DROP INDEX %s', c.oid::regclass) AS statement
        FROM pg_class AS c
        WHERE c.relnamespace = 'raw'::regnamespace AND c.relkind = 'i'
        ORDER BY c.relname
    LOOP
        EXECUTE target.statement;
    END LOOP;
END
$$;

-- step: products
INSERT INTO raw.products (product_id, sku, name, category, price_cents, created_at, updated_at)
SELECT
    s.p,
    'SKU-' || lpad(s.p::text, 6, '0'),
    pg_temp.sample_product_name(s.p, s.category_number),
    pg_temp.sample_category(s.category_number),
    pg_temp.sample_list_price(s.p),
    s.at,
    s.at
FROM (
    SELECT
        p,
        pg_temp.sample_category_number(p) AS category_number,
        -- in the catalogue 30 to 60 days before the first order
        current_setting('weir_sample.end_at')::timestamptz - interval '17520 hours'
        - interval '720 hours' - interval '1 hour' * pg_temp.sample_pick(p, 8, 720) AS at
    FROM generate_series(1, pg_temp.sample_product_count(current_setting('weir_sample.scale')::bigint)) AS p
    OFFSET 0
) AS s;

-- step: customers
INSERT INTO raw.customers (customer_id, email, full_name, city, country, created_at, updated_at)
SELECT
    s.c,
    pg_temp.sample_email(s.c),
    pg_temp.sample_first_name(s.c) || ' ' || pg_temp.sample_last_name(s.c),
    pg_temp.sample_city(s.city_number),
    pg_temp.sample_country(s.city_number),
    s.at,
    s.at
FROM (
    SELECT
        c,
        pg_temp.sample_city_number(c, 3) AS city_number,
        current_setting('weir_sample.end_at')::timestamptz - interval '17520 hours'
        + interval '17520 hours' * pg_temp.sample_customer_position(c, n.customers) AS at
    FROM
        (SELECT pg_temp.sample_customer_count(current_setting('weir_sample.scale')::bigint) AS customers) AS n,
        generate_series(1, n.customers) AS c
    OFFSET 0
) AS s;

-- step: orders
-- The status follows the order's age at end_at: old orders are delivered (3% cancelled),
-- recent ones still on their way; updated_at is when the status last moved, before end_at.
INSERT INTO raw.orders (order_id, customer_id, status, ordered_at, created_at, updated_at)
SELECT
    s.o,
    pg_temp.sample_customer_at(s.signed_up, s.o),
    s.status,
    s.at,
    s.at,
    s.at + s.age * CASE s.status
        WHEN 'placed' THEN 0.0
        WHEN 'paid' THEN 0.05 + 0.2 * pg_temp.sample_unit(s.o, 14)
        WHEN 'shipped' THEN 0.25 + 0.2 * pg_temp.sample_unit(s.o, 14)
        WHEN 'cancelled' THEN 0.02 * pg_temp.sample_unit(s.o, 14)
        ELSE least(0.9, (48 + 120 * pg_temp.sample_unit(s.o, 14)) / s.age_hours)
    END
FROM (
    SELECT
        t.o,
        t.at,
        t.signed_up,
        current_setting('weir_sample.end_at')::timestamptz - t.at AS age,
        t.age_hours,
        CASE
            WHEN t.age_hours > 24 AND pg_temp.sample_pick(t.o, 13, 100) < 3 THEN 'cancelled'
            WHEN t.age_hours > 240 THEN 'delivered'
            WHEN t.age_hours > 96 THEN 'shipped'
            WHEN t.age_hours > 24 THEN 'paid'
            ELSE 'placed'
        END AS status
    FROM (
        SELECT
            o,
            current_setting('weir_sample.end_at')::timestamptz - interval '17520 hours'
            + interval '17520 hours' * pg_temp.sample_order_position(o, n.orders) AS at,
            17520 * (1 - pg_temp.sample_order_position(o, n.orders)) AS age_hours,
            greatest(1, floor(n.customers * (0.3 + 0.7 * pg_temp.sample_order_position(o, n.orders)))::bigint - 1)
                AS signed_up
        FROM
            (
                SELECT
                    pg_temp.sample_order_of_item(current_setting('weir_sample.scale')::bigint) AS orders,
                    pg_temp.sample_customer_count(current_setting('weir_sample.scale')::bigint) AS customers
            ) AS n,
            generate_series(1, n.orders) AS o
        OFFSET 0
    ) AS t
    OFFSET 0
) AS s;

-- step: order_items
-- Items are written with their order and never change; the price charged is the list
-- price at load (products have not changed yet), sometimes discounted.
INSERT INTO raw.order_items (order_item_id, order_id, product_id, quantity, unit_price_cents, created_at, updated_at)
SELECT
    s.item,
    s.o,
    s.p,
    pg_temp.sample_quantity(s.item, 21),
    pg_temp.sample_charged(s.item, 23, pg_temp.sample_list_price(s.p)),
    s.at,
    s.at
FROM (
    SELECT
        t.item,
        t.o,
        t.p,
        current_setting('weir_sample.end_at')::timestamptz - interval '17520 hours'
        + interval '17520 hours' * pg_temp.sample_order_position(t.o, n.orders) AS at
    FROM
        (SELECT pg_temp.sample_order_of_item(current_setting('weir_sample.scale')::bigint) AS orders) AS n,
        (
            SELECT
                item,
                pg_temp.sample_order_of_item(item) AS o,
                pg_temp.sample_product_of(
                    item, 20, pg_temp.sample_product_count(current_setting('weir_sample.scale')::bigint)
                ) AS p
            FROM generate_series(1, current_setting('weir_sample.scale')::bigint) AS item
            OFFSET 0
        ) AS t
    OFFSET 0
) AS s;

-- step: restore_keys
DO $$
DECLARE
    saved record;
BEGIN
    FOR saved IN SELECT statement FROM sample_restore ORDER BY position LOOP
        EXECUTE saved.statement;
    END LOOP;
END
$$;

-- step: sequences
-- An application inserting without ids continues after the generated ones.
SELECT
    setval(pg_get_serial_sequence('raw.customers', 'customer_id'), (SELECT max(customer_id) FROM raw.customers)),
    setval(pg_get_serial_sequence('raw.products', 'product_id'), (SELECT max(product_id) FROM raw.products)),
    setval(pg_get_serial_sequence('raw.orders', 'order_id'), (SELECT max(order_id) FROM raw.orders)),
    setval(pg_get_serial_sequence('raw.order_items', 'order_item_id'), (SELECT max(order_item_id) FROM raw.order_items));

-- step: analyze
-- Fresh statistics, so the first build plans its joins for the real sizes.
ANALYZE raw.customers, raw.products, raw.orders, raw.order_items;
