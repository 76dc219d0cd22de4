-- Apply one deterministic change batch to the example warehouse's raw schema (runner/sample_data.py).
--
-- Batch k happens on simulated day k after the loaded history, in
-- [end_at + (k - 1) days, end_at + k days): later than every existing change, so
-- watermarks see it. Every choice is a hash of a row's id and a seed that includes k,
-- and every UPDATE sets updated_at itself (so the touch trigger keeps it). Expects the
-- helpers of sample_functions.sql, TimeZone UTC and these settings:
--   SET weir_sample.end_at = '2024-01-01 00:00:00+00';
--   SET weir_sample.batch = 1;          -- k, from 1
--   SET weir_sample.fraction = 0.01;    -- about this share of rows is touched per kind of change
-- Each statement is one step, named by its `-- step:` comment.
--
-- Customers who come back after being deleted stay as they came back: they neither move
-- nor order again. dim_customer closes a deleted customer's version at (real) build time,
-- later than any simulated instant here, so a later simulated change of theirs would fall
-- before the version their return opened.

-- step: new_customers
-- Sign-ups in the first half of the day, so some of them order the same day.
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
        m.top + n AS c,
        pg_temp.sample_city_number(m.top + n, 3) AS city_number,
        pg_temp.sample_day_start()
        + interval '12 hours' * pg_temp.sample_unit(m.top + n, pg_temp.sample_seed() + 1) AS at
    FROM
        (SELECT max(customer_id) AS top FROM raw.customers) AS m,
        generate_series(1, greatest(1, round(pg_temp.sample_fraction() * m.top)::bigint)) AS n
    OFFSET 0
) AS s;

-- step: returning_customers
-- About a third of the loaded customers deleted by earlier batches open their account
-- again, under their old id and e-mail address: the same natural key comes back.
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
        g.c,
        pg_temp.sample_city_number(g.c, pg_temp.sample_seed() + 2) AS city_number,
        pg_temp.sample_day_start() + interval '24 hours' * pg_temp.sample_unit(g.c, pg_temp.sample_seed() + 3) AS at
    FROM generate_series(1, (SELECT pg_temp.sample_loaded_customers())) AS g (c)
    WHERE
        pg_temp.sample_pick(g.c, pg_temp.sample_seed() + 4, 3) = 0
        AND NOT EXISTS (SELECT FROM raw.customers AS c WHERE c.customer_id = g.c)
    OFFSET 0
) AS s;

-- step: moved_customers
UPDATE raw.customers AS c
SET
    city = pg_temp.sample_city(s.city_number),
    country = pg_temp.sample_country(s.city_number),
    updated_at = s.at
FROM (
    SELECT
        c.customer_id,
        pg_temp.sample_move(c.city, c.customer_id, pg_temp.sample_seed() + 5) AS city_number,
        pg_temp.sample_day_start()
        + interval '24 hours' * pg_temp.sample_unit(c.customer_id, pg_temp.sample_seed() + 6) AS at
    FROM raw.customers AS c
    WHERE
        c.created_at < pg_temp.sample_day_start()
        AND pg_temp.sample_pick(c.customer_id, pg_temp.sample_seed() + 7, 1000000) < pg_temp.sample_fraction() * 1000000
        -- not a customer who came back (a loaded id created again after end_at)
        AND (c.created_at < pg_temp.sample_end_at() OR c.customer_id > (SELECT pg_temp.sample_loaded_customers()))
    OFFSET 0
) AS s
WHERE c.customer_id = s.customer_id;

-- step: repriced_products
-- A new list price 20% below to 20% above the old one; items already sold keep theirs.
UPDATE raw.products AS pr
SET
    price_cents = s.price_cents,
    updated_at = s.at
FROM (
    SELECT
        t.product_id,
        CASE WHEN t.new_price = t.price_cents THEN t.price_cents + 100 ELSE t.new_price END AS price_cents,
        pg_temp.sample_day_start()
        + interval '24 hours' * pg_temp.sample_unit(t.product_id, pg_temp.sample_seed() + 9) AS at
    FROM (
        SELECT
            pr.product_id,
            pr.price_cents,
            pr.price_cents * (80 + pg_temp.sample_pick(pr.product_id, pg_temp.sample_seed() + 8, 41)) / 100 AS new_price
        FROM raw.products AS pr
        WHERE
            pg_temp.sample_pick(pr.product_id, pg_temp.sample_seed() + 10, 1000000)
            < greatest(pg_temp.sample_fraction(), 0.005) * 1000000
        OFFSET 0
    ) AS t
    OFFSET 0
) AS s
WHERE pr.product_id = s.product_id;

-- step: order_status
-- Open orders move one step on: placed -> paid (one in twenty is cancelled instead),
-- paid -> shipped, shipped -> delivered; about `fraction` of all orders, chosen by hash.
-- Only raw.orders changes, not its items: the fact must notice the order's own updated_at.
UPDATE raw.orders AS o
SET
    status = s.status,
    updated_at = s.at
FROM (
    SELECT
        t.order_id,
        CASE t.status
            WHEN 'placed' THEN
                CASE WHEN pg_temp.sample_pick(t.order_id, pg_temp.sample_seed() + 11, 20) = 0 THEN 'cancelled' ELSE 'paid' END
            WHEN 'paid' THEN 'shipped'
            ELSE 'delivered'
        END AS status,
        pg_temp.sample_day_start()
        + interval '24 hours' * pg_temp.sample_unit(t.order_id, pg_temp.sample_seed() + 12) AS at
    FROM (
        SELECT
            o.order_id,
            o.status,
            row_number() OVER (ORDER BY pg_temp.sample_hash(o.order_id, pg_temp.sample_seed() + 13), o.order_id) AS place
        FROM raw.orders AS o
        WHERE o.status IN ('placed', 'paid', 'shipped')
    ) AS t
    WHERE t.place <= greatest(1, round(pg_temp.sample_fraction() * (SELECT max(order_id) FROM raw.orders)))
    OFFSET 0
) AS s
WHERE o.order_id = s.order_id;

-- step: new_orders
-- One in ten arrives late: placed up to three days before it reaches the database, so
-- its day may already be in the warehouse. Each goes to the customer at or nearest below
-- a hashed id who had signed up by then (and did not come back from deletion).
INSERT INTO raw.orders (order_id, customer_id, status, ordered_at, created_at, updated_at)
SELECT
    s.top + row_number() OVER (ORDER BY s.n),
    buyer.customer_id,
    'placed',
    s.ordered_at,
    s.created_at,
    s.created_at
FROM (
    SELECT
        t.n,
        t.top,
        t.created_at,
        t.loaded,
        t.created_at - CASE
            WHEN pg_temp.sample_pick(t.n, pg_temp.sample_seed() + 14, 10) = 0
                THEN interval '1 hour' + interval '71 hours' * pg_temp.sample_unit(t.n, pg_temp.sample_seed() + 15)
            ELSE interval '0'
        END AS ordered_at,
        1 + pg_temp.sample_pick(t.n, pg_temp.sample_seed() + 16, t.customer_top) AS candidate
    FROM (
        SELECT
            n,
            m.top,
            m.customer_top,
            m.loaded,
            pg_temp.sample_day_start()
            + interval '24 hours' * pg_temp.sample_unit(n, pg_temp.sample_seed() + 17) AS created_at
        FROM
            (
                SELECT
                    (SELECT max(order_id) FROM raw.orders) AS top,
                    (SELECT max(customer_id) FROM raw.customers) AS customer_top,
                    (SELECT pg_temp.sample_loaded_customers()) AS loaded
            ) AS m,
            generate_series(1, greatest(1, round(pg_temp.sample_fraction() * m.top)::bigint)) AS n
        OFFSET 0
    ) AS t
    OFFSET 0
) AS s
CROSS JOIN LATERAL (
    SELECT c.customer_id
    FROM raw.customers AS c
    WHERE
        c.customer_id <= s.candidate
        AND c.created_at < s.ordered_at
        AND (c.created_at < pg_temp.sample_end_at() OR c.customer_id > s.loaded)
    ORDER BY c.customer_id DESC
    LIMIT 1
) AS buyer;

-- step: new_order_items
-- One to five items per new order at today's list price (one in ten discounted).
INSERT INTO raw.order_items (order_item_id, order_id, product_id, quantity, unit_price_cents, created_at, updated_at)
SELECT
    s.top + row_number() OVER (ORDER BY s.order_id, s.line),
    s.order_id,
    pr.product_id,
    pg_temp.sample_quantity(s.order_id * 8 + s.line, pg_temp.sample_seed() + 18),
    pg_temp.sample_charged(s.order_id * 8 + s.line, pg_temp.sample_seed() + 20, pr.price_cents),
    s.created_at,
    s.created_at
FROM (
    SELECT
        o.order_id,
        o.created_at,
        line,
        m.top,
        pg_temp.sample_product_of(o.order_id * 8 + line, pg_temp.sample_seed() + 21, m.products) AS product_id
    FROM
        (
            SELECT
                (SELECT coalesce(max(order_item_id), 0) FROM raw.order_items) AS top,
                (SELECT max(product_id) FROM raw.products) AS products
        ) AS m,
        raw.orders AS o,
        generate_series(1, 1 + pg_temp.sample_pick(o.order_id, pg_temp.sample_seed() + 22, 5)) AS line
    -- the orders new_orders added: past the last order that has items
    WHERE o.order_id > (SELECT coalesce(max(i.order_id), 0) FROM raw.order_items AS i)
    OFFSET 0
) AS s
INNER JOIN raw.products AS pr ON s.product_id = pr.product_id;

-- step: deleted_customers
-- Loaded customers who never ordered close their account: about ten times `fraction` of
-- them per batch. Orders restrict deleting anyone who ordered.
DELETE FROM raw.customers AS c
WHERE
    c.created_at < pg_temp.sample_end_at()
    AND pg_temp.sample_pick(c.customer_id, pg_temp.sample_seed() + 23, 1000000)
    < least(1.0, 10 * pg_temp.sample_fraction()) * 1000000
    AND NOT EXISTS (SELECT FROM raw.orders AS o WHERE o.customer_id = c.customer_id);

-- step: sequences
SELECT
    setval(pg_get_serial_sequence('raw.customers', 'customer_id'), (SELECT max(customer_id) FROM raw.customers)),
    setval(pg_get_serial_sequence('raw.products', 'product_id'), (SELECT max(product_id) FROM raw.products)),
    setval(pg_get_serial_sequence('raw.orders', 'order_id'), (SELECT max(order_id) FROM raw.orders)),
    setval(pg_get_serial_sequence('raw.order_items', 'order_item_id'), (SELECT max(order_item_id) FROM raw.order_items));
