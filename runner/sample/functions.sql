-- Helpers of the deterministic sample-data generator (runner/sample_data.py).
--
-- Every "random" choice is a hash of a row number and a seed, so the same scale and
-- batch always produce the same rows. They are temporary functions (pg_temp): they
-- leave nothing behind in the database, and each is a single SQL expression that
-- PostgreSQL inlines, so calling them per row costs no more than the arithmetic.
-- To use them from psql: \i runner/sample/functions.sql, then call pg_temp.sample_...

-- A non-negative 63-bit hash of (n, seed). hashint8extended is the hash PostgreSQL's
-- hash partitioning uses, which is stable across versions and platforms.
CREATE OR REPLACE FUNCTION pg_temp.sample_hash(n bigint, seed bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN hashint8extended(n, seed) & 9223372036854775807;

-- A uniform choice in 0 .. m - 1.
CREATE OR REPLACE FUNCTION pg_temp.sample_pick(n bigint, seed bigint, m bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (hashint8extended(n, seed) & 9223372036854775807) % m;

-- A uniform fraction in [0, 1), from 52 bits of the hash (exact in a float8).
CREATE OR REPLACE FUNCTION pg_temp.sample_unit(n bigint, seed bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (hashint8extended(n, seed) & 4503599627370495)::float8 / 4503599627370496.0;

-- Sizes of the loaded tables for `scale` order items.
CREATE OR REPLACE FUNCTION pg_temp.sample_product_count(scale bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN greatest(least(scale / 100, 5000), 10);

CREATE OR REPLACE FUNCTION pg_temp.sample_customer_count(scale bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN greatest(scale / 50, 20);

-- Items come in blocks of six shared by two orders, split 1..5 / 5..1 by a hash of the
-- block: orders get one to five items, three on average, without counting anything.
CREATE OR REPLACE FUNCTION pg_temp.sample_order_of_item(item bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 2 * ((item - 1) / 6) + CASE
    WHEN (item - 1) % 6 < 1 + (hashint8extended((item - 1) / 6, 10) & 9223372036854775807) % 5 THEN 1
    ELSE 2
END;

-- Position of order o of `orders` in the loaded history, as a fraction in [0, 1):
-- orders are placed in id order, each somewhere in its own slot.
CREATE OR REPLACE FUNCTION pg_temp.sample_order_position(o bigint, orders bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ((o - 1) + (hashint8extended(o, 11) & 4503599627370495)::float8 / 4503599627370496.0) / orders;

-- Position of customer c's sign-up: 30% signed up before the history starts (positions
-- below 0), the rest evenly across it. Customer c is created at start + position * span.
CREATE OR REPLACE FUNCTION pg_temp.sample_customer_position(c bigint, customers bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ((c - 1)::float8 / customers - 0.3) / 0.7;

-- The customer of an order placed at `position`: one of the customers signed up by then
-- (less a margin of two customers, so strictly earlier), skipping every tenth customer
-- (ids 10, 20, ...): those never order in the loaded history, so change batches have
-- customers without orders to delete. m + m / 9 + 1 maps 0, 1, 2, ... onto 1..9, 11..19, ...
CREATE OR REPLACE FUNCTION pg_temp.sample_customer_at(signed_up bigint, o bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (hashint8extended(o, 12) & 9223372036854775807) % (signed_up - signed_up / 10)
    + (hashint8extended(o, 12) & 9223372036854775807) % (signed_up - signed_up / 10) / 9 + 1;

-- Names, places and products, each chosen by a hash of the id.
CREATE OR REPLACE FUNCTION pg_temp.sample_first_name(c bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (ARRAY[
    'Anna', 'Ben', 'Chloe', 'David', 'Elif', 'Farid', 'Greta', 'Hugo', 'Ines', 'Jonas',
    'Kofi', 'Lena', 'Mateo', 'Nora', 'Omar', 'Paula', 'Quentin', 'Rosa', 'Sven', 'Tara',
    'Umut', 'Vera', 'Wim', 'Xenia', 'Yusuf', 'Zoe', 'Aiko', 'Bruno', 'Carla', 'Dmitri'
])[1 + (hashint8extended(c, 1) & 9223372036854775807) % 30];

CREATE OR REPLACE FUNCTION pg_temp.sample_last_name(c bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (ARRAY[
    'Schmidt', 'Dubois', 'Rossi', 'Garcia', 'Novak', 'Kowalski', 'Jensen', 'Murphy', 'Silva', 'Yilmaz',
    'Nagy', 'Berg', 'Costa', 'Fischer', 'Lambert', 'Moreau', 'Horvat', 'Popescu', 'Virtanen', 'Olsen',
    'Weber', 'Bianchi', 'Lopez', 'Santos', 'Peeters', 'Janssen', 'Keller', 'Meyer', 'Russo', 'Nowak'
])[1 + (hashint8extended(c, 2) & 9223372036854775807) % 30];

CREATE OR REPLACE FUNCTION pg_temp.sample_email(c bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN lower(pg_temp.sample_first_name(c) || '.' || pg_temp.sample_last_name(c)) || c || '@example.com';

-- City number 1..24 of customer c; seed 3 at sign-up, other seeds when moving.
CREATE OR REPLACE FUNCTION pg_temp.sample_city_number(c bigint, seed bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 1 + ((hashint8extended(c, seed) & 9223372036854775807) % 24)::integer;

-- The 24 cities customers live in, and their countries, by city number.
CREATE OR REPLACE FUNCTION pg_temp.sample_cities() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY[
    'Berlin', 'Hamburg', 'Munich', 'Paris', 'Lyon', 'Marseille', 'Madrid', 'Barcelona',
    'Seville', 'Rome', 'Milan', 'Naples', 'Amsterdam', 'Rotterdam', 'Vienna', 'Graz',
    'Warsaw', 'Krakow', 'Lisbon', 'Porto', 'Copenhagen', 'Aarhus', 'Dublin', 'Cork'
];

CREATE OR REPLACE FUNCTION pg_temp.sample_city(city_number integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (pg_temp.sample_cities())[city_number];

CREATE OR REPLACE FUNCTION pg_temp.sample_country(city_number integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (ARRAY[
    'DE', 'DE', 'DE', 'FR', 'FR', 'FR', 'ES', 'ES',
    'ES', 'IT', 'IT', 'IT', 'NL', 'NL', 'AT', 'AT',
    'PL', 'PL', 'PT', 'PT', 'DK', 'DK', 'IE', 'IE'
])[city_number];

-- A city other than `city`: the current one shifted by 1 to 23 places.
CREATE OR REPLACE FUNCTION pg_temp.sample_move(city text, c bigint, seed bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 1 + ((coalesce(array_position(pg_temp.sample_cities(), city), 1) - 1
    + 1 + (hashint8extended(c, seed) & 9223372036854775807) % 23) % 24)::integer;

-- Category number 1..8 of product p.
CREATE OR REPLACE FUNCTION pg_temp.sample_category_number(p bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 1 + ((hashint8extended(p, 4) & 9223372036854775807) % 8)::integer;

CREATE OR REPLACE FUNCTION pg_temp.sample_category(category_number integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (ARRAY['books', 'garden', 'kitchen', 'toys', 'sports', 'music', 'office', 'outdoor'])[category_number];

-- "<adjective> <noun>", the noun fitting the category.
CREATE OR REPLACE FUNCTION pg_temp.sample_product_name(p bigint, category_number integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (ARRAY[
    'Classic', 'Compact', 'Deluxe', 'Eco', 'Handy', 'Large', 'Modern', 'Rustic', 'Smart', 'Sturdy'
])[1 + (hashint8extended(p, 5) & 9223372036854775807) % 10] || ' ' || (ARRAY[
    ARRAY['Novel', 'Atlas', 'Cookbook', 'Diary'],
    ARRAY['Rake', 'Hose', 'Planter', 'Shears'],
    ARRAY['Kettle', 'Skillet', 'Grater', 'Teapot'],
    ARRAY['Puzzle', 'Kite', 'Robot', 'Yo-yo'],
    ARRAY['Racket', 'Ball', 'Helmet', 'Jump rope'],
    ARRAY['Ukulele', 'Harmonica', 'Drum', 'Songbook'],
    ARRAY['Stapler', 'Notebook', 'Desk lamp', 'Binder'],
    ARRAY['Tent', 'Lantern', 'Backpack', 'Hammock']
])[category_number][1 + (hashint8extended(p, 6) & 9223372036854775807) % 4];

-- List price in cents at load: 0.99 .. 249.99.
CREATE OR REPLACE FUNCTION pg_temp.sample_list_price(p bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 99 + 100 * ((hashint8extended(p, 7) & 9223372036854775807) % 250);

-- The product of an item: popular products (low ids) sell more, since the square of a
-- uniform fraction leans towards 0.
CREATE OR REPLACE FUNCTION pg_temp.sample_product_of(n bigint, seed bigint, products bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 1 + floor(products * ((hashint8extended(n, seed) & 4503599627370495)::float8 / 4503599627370496.0) ^ 2)::bigint;

-- Units of an item: 1 for 70% of items, else 2..4.
CREATE OR REPLACE FUNCTION pg_temp.sample_quantity(n bigint, seed bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN (hashint8extended(n, seed) & 9223372036854775807) % 10 < 7 THEN 1
    ELSE 2 + ((hashint8extended(n, seed + 1) & 9223372036854775807) % 3)::integer END;

-- The price charged: the list price, 10% off for one item in ten.
CREATE OR REPLACE FUNCTION pg_temp.sample_charged(n bigint, seed bigint, list_price bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN (hashint8extended(n, seed) & 9223372036854775807) % 10 = 0 THEN list_price * 9 / 10
    ELSE list_price END;

-- The settings of a load or change batch (see sample_load.sql and sample_batch.sql).
CREATE OR REPLACE FUNCTION pg_temp.sample_end_at() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
RETURN current_setting('weir_sample.end_at')::timestamptz;

-- Change batch k happens in [end_at + (k - 1) days, end_at + k days).
CREATE OR REPLACE FUNCTION pg_temp.sample_day_start() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
RETURN current_setting('weir_sample.end_at')::timestamptz
    + interval '24 hours' * (current_setting('weir_sample.batch')::bigint - 1);

-- Seeds of batch k are 1000 k + a step's own number, so no two batches choose alike.
CREATE OR REPLACE FUNCTION pg_temp.sample_seed() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
RETURN 1000 * current_setting('weir_sample.batch')::bigint;

CREATE OR REPLACE FUNCTION pg_temp.sample_fraction() RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
RETURN current_setting('weir_sample.fraction')::float8;

-- How many customers the load created (ids 1 to this), found from the data: the load's
-- last order item is the newest one written before end_at (items never change).
CREATE OR REPLACE FUNCTION pg_temp.sample_loaded_customers() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_temp.sample_customer_count(max(i.order_item_id))
    FROM raw.order_items AS i
    WHERE i.updated_at = (
        SELECT max(l.updated_at) FROM raw.order_items AS l WHERE l.updated_at < pg_temp.sample_end_at()
    )
$$;
