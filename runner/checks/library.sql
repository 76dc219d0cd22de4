-- Weir's check library: reusable, parameterised checks in the weir schema.
--
-- Installed by runner.check_library.install() (which `weir check` calls first), or by
-- hand with `psql -f runner/checks/library.sql`. Every function only reads: each is
-- STABLE and works inside a READ ONLY transaction, so a check file can be one line:
--
--     SELECT * FROM weir.not_null(NULL::raw.customers, 'email');
--
-- Row-level checks take the table's row type (NULL::schema.table) and return the
-- violating rows themselves, with every column of the table, typed. Aggregate checks
-- return one row describing the violation, or nothing when the table is fine.
--
-- Names are never pasted into SQL: relations come in as regclass (or a name resolved to
-- one) and are written with format('%I.%I'); columns are checked against pg_attribute
-- and written with format('%I'); values travel as parameters (EXECUTE ... USING). A
-- missing relation or column raises a PostgreSQL error whose HINT lists what exists.
-- Aggregate checks also accept the relation as text: that overload is the one a quoted
-- literal picks, and it reports a misspelt name with the relations of that schema
-- (a '...'::regclass cast fails while parsing, before any function can add a HINT).
--
-- CREATE OR REPLACE cannot change a function's arguments or result columns: a change
-- to either needs a DROP FUNCTION above the new definition.

CREATE SCHEMA IF NOT EXISTS weir;

-- The marker install() compares: its COMMENT holds the hash of the installed file.
CREATE OR REPLACE FUNCTION weir.check_library_version() RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT obj_description('weir.check_library_version()'::regprocedure, 'pg_proc')
$fn$;
COMMENT ON FUNCTION weir.check_library_version() IS 'installed by hand';


---------------------------------------------------------------------------------------
-- Helpers: resolving names with errors a person can act on.
---------------------------------------------------------------------------------------

-- A comma-separated list of names, cut after `shown` so a HINT stays readable.
CREATE OR REPLACE FUNCTION weir.name_list(names text[], shown integer DEFAULT 40) RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE
        WHEN coalesce(cardinality(names), 0) = 0 THEN '(none)'
        WHEN cardinality(names) <= shown THEN array_to_string(names, ', ')
        ELSE array_to_string(names[1:shown], ', ') || format(' and %s more', cardinality(names) - shown)
    END
$fn$;
COMMENT ON FUNCTION weir.name_list(text[], integer) IS
    'Join names for an error HINT, cut after `shown`. Example: SELECT weir.name_list(ARRAY[''a'', ''b''])';

CREATE OR REPLACE FUNCTION weir.relation_name(rel regclass) RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    qualified text;
BEGIN
    SELECT format('%I.%I', n.nspname, c.relname) INTO qualified
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = rel AND c.relkind IN ('r', 'p', 'v', 'm', 'f');
    IF qualified IS NULL THEN
        RAISE EXCEPTION 'no table or view given (got %)', coalesce(rel::text, 'NULL')
            USING ERRCODE = 'undefined_table',
                  HINT = 'pass a table or view, e.g. ''raw.orders'' or NULL::raw.orders';
    END IF;
    RETURN qualified;
END
$fn$;
COMMENT ON FUNCTION weir.relation_name(regclass) IS
    'Schema-qualified, quoted name of a table or view; raises if it is none. '
    'Example: SELECT weir.relation_name(''raw.orders'')';

CREATE OR REPLACE FUNCTION weir.resolve_relation(name text) RETURNS regclass
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    found regclass;
    parts text[];
    schema_name text;
    hint text;
    elsewhere text;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'no table or view given (got NULL)'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'pass a name such as ''raw.orders''';
    END IF;
    parts := parse_ident(name);  -- raises on malformed names, with PostgreSQL's own message
    found := to_regclass(name);
    IF found IS NOT NULL THEN
        PERFORM weir.relation_name(found);  -- an index or a sequence is not something to check
        RETURN found;
    END IF;
    IF cardinality(parts) >= 2 THEN
        schema_name := parts[cardinality(parts) - 1];
        IF to_regnamespace(quote_ident(schema_name)) IS NULL THEN
            SELECT format('schema %s does not exist; schemas: %s', quote_ident(schema_name),
                          weir.name_list(array_agg(quote_ident(n.nspname) ORDER BY n.nspname)))
            INTO hint
            FROM pg_catalog.pg_namespace AS n
            WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema';
        ELSE
            SELECT format('tables and views in schema %s: %s', quote_ident(schema_name),
                          weir.name_list(array_agg(quote_ident(c.relname) ORDER BY c.relname)))
            INTO hint
            FROM pg_catalog.pg_class AS c
            WHERE c.relnamespace = to_regnamespace(quote_ident(schema_name))
              AND c.relkind IN ('r', 'p', 'v', 'm', 'f');
        END IF;
    ELSE
        SELECT format('tables and views on search_path (%s): %s', array_to_string(current_schemas(false), ', '),
                      weir.name_list(array_agg(format('%I.%I', n.nspname, c.relname) ORDER BY n.nspname, c.relname)))
        INTO hint
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY (current_schemas(false)) AND c.relkind IN ('r', 'p', 'v', 'm', 'f');
        -- The usual slip: a table of another schema named without its schema.
        SELECT weir.name_list(array_agg(format('%I.%I', n.nspname, c.relname) ORDER BY n.nspname))
        INTO elsewhere
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relname = parts[1] AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        HAVING count(*) > 0;
        IF elsewhere IS NOT NULL THEN
            hint := format('did you mean %s? %s', elsewhere, hint);
        END IF;
    END IF;
    RAISE EXCEPTION 'relation "%" does not exist', name USING ERRCODE = 'undefined_table', HINT = hint;
END
$fn$;
COMMENT ON FUNCTION weir.resolve_relation(text) IS
    'Resolve a table or view name like the regclass cast does, but say which relations exist when it is missing. '
    'Example: SELECT weir.resolve_relation(''raw.orders'')';

CREATE OR REPLACE FUNCTION weir.column_type(rel regclass, col text) RETURNS regtype
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    found regtype;
    hint text;
    near text;
BEGIN
    SELECT a.atttypid INTO found
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF found IS NOT NULL THEN
        RETURN found;
    END IF;
    SELECT format('columns of %s: %s', weir.relation_name(rel),
                  weir.name_list(array_agg(quote_ident(a.attname) ORDER BY a.attnum))),
           min(a.attname) FILTER (WHERE lower(a.attname) = lower(btrim(col, '"')))
    INTO hint, near
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;
    IF near IS NOT NULL THEN
        -- Names come in as stored, not as SQL would fold them: 'Email' is not email.
        hint := format('did you mean %L? Column names are case-sensitive and given without quotes; %s', near, hint);
    END IF;
    RAISE EXCEPTION 'column "%" does not exist in %', coalesce(col, 'NULL'), weir.relation_name(rel)
        USING ERRCODE = 'undefined_column', HINT = hint;
END
$fn$;
COMMENT ON FUNCTION weir.column_type(regclass, text) IS
    'Type of a column, raising with the list of columns when it does not exist. '
    'Example: SELECT weir.column_type(''raw.orders'', ''ordered_at'')';

-- Validate a list of key columns: present, non-empty, no NULL names, no repeats.
CREATE OR REPLACE FUNCTION weir.require_columns(rel regclass, cols text[]) RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    col text;
BEGIN
    IF coalesce(cardinality(cols), 0) = 0 THEN
        RAISE EXCEPTION 'no columns given for %', weir.relation_name(rel)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass a column name, or ARRAY[''a'', ''b''] for several';
    END IF;
    IF (SELECT count(DISTINCT c) <> cardinality(cols) FROM unnest(cols) AS c) THEN
        RAISE EXCEPTION 'columns % repeat a name', cols USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH col IN ARRAY cols LOOP
        PERFORM weir.column_type(rel, col);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION weir.require_columns(regclass, text[]) IS
    'Raise unless every named column exists (once). Example: SELECT weir.require_columns(''raw.orders'', ARRAY[''order_id''])';

CREATE OR REPLACE FUNCTION weir.row_relation(rel anyelement) RETURNS regclass
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    found regclass;
BEGIN
    SELECT c.oid INTO found
    FROM pg_catalog.pg_type AS t
    JOIN pg_catalog.pg_class AS c ON c.oid = t.typrelid
    WHERE t.oid = pg_typeof(rel) AND c.relkind IN ('r', 'p', 'v', 'm', 'f');
    IF found IS NULL THEN
        RAISE EXCEPTION 'expected the row type of a table or view, got %', pg_typeof(rel)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass NULL::schema.table as the first argument, e.g. NULL::raw.orders';
    END IF;
    RETURN found;
END
$fn$;
COMMENT ON FUNCTION weir.row_relation(anyelement) IS
    'The table or view whose row type this is. Example: SELECT weir.row_relation(NULL::raw.orders)';

-- The start of the period holding `ts`. Periods without months are aligned to
-- Monday 2000-01-03 00:00 (days start at midnight, weeks on Monday); periods of whole
-- months to 2000-01-01. A single expression, so PostgreSQL can inline it in a query.
CREATE OR REPLACE FUNCTION weir.period_start(ts timestamp, period interval) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE
        WHEN extract(year FROM period) = 0 AND extract(month FROM period) = 0
            THEN date_bin(period, ts, TIMESTAMP '2000-01-03 00:00')
        ELSE TIMESTAMP '2000-01-01 00:00' + make_interval(months => (
            floor(((extract(year FROM ts) - 2000) * 12 + extract(month FROM ts) - 1)
                  / (extract(year FROM period) * 12 + extract(month FROM period)))
            * (extract(year FROM period) * 12 + extract(month FROM period)))::integer)
    END
$fn$;
COMMENT ON FUNCTION weir.period_start(timestamp, interval) IS
    'Start of the volume_anomaly period holding a timestamp. '
    'Example: SELECT weir.period_start(TIMESTAMP ''2024-05-08 13:00'', ''1 week'')';


---------------------------------------------------------------------------------------
-- Row-level checks: the violating rows, every column, typed as the table's rows.
---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION weir.not_null(rel anyelement, cols text[]) RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    target regclass := weir.row_relation(rel);
BEGIN
    PERFORM weir.require_columns(target, cols);
    RETURN QUERY EXECUTE format(
        'SELECT t.* FROM %s AS t WHERE %s',
        weir.relation_name(target),
        (SELECT string_agg(format('t.%I IS NULL', c), ' OR ') FROM unnest(cols) AS c));
END
$fn$;
COMMENT ON FUNCTION weir.not_null(anyelement, text[]) IS
    'Rows where any of the columns is NULL. '
    'Example: SELECT * FROM weir.not_null(NULL::raw.orders, ARRAY[''customer_id'', ''ordered_at''])';

CREATE OR REPLACE FUNCTION weir.not_null(rel anyelement, col text) RETURNS SETOF anyelement
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.not_null(rel, ARRAY[col])
$fn$;
COMMENT ON FUNCTION weir.not_null(anyelement, text) IS
    'Rows where the column is NULL. Example: SELECT * FROM weir.not_null(NULL::raw.customers, ''email'')';

-- SQL UNIQUE semantics: a key with a NULL in it is never a duplicate (a unique
-- constraint would accept those rows too). Rows come sorted by key, so the copies of
-- one key are shown together.
CREATE OR REPLACE FUNCTION weir.unique_rows(rel anyelement, cols text[]) RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    target regclass := weir.row_relation(rel);
    keys text;
BEGIN
    PERFORM weir.require_columns(target, cols);
    keys := (SELECT string_agg(format('%I', c), ', ') FROM unnest(cols) AS c);
    -- The duplicate keys first, once: a table without any (the usual case) is then
    -- read only by that aggregate, and the one-time EXISTS filter skips the rescan.
    RETURN QUERY EXECUTE format(
        'WITH dup AS MATERIALIZED ('
        ' SELECT %3$s FROM %1$s AS d WHERE %4$s GROUP BY %3$s HAVING count(*) > 1)'
        ' SELECT t.* FROM %1$s AS t WHERE EXISTS (SELECT FROM dup) AND (%2$s) IN (SELECT %3$s FROM dup)'
        ' ORDER BY %2$s',
        weir.relation_name(target),
        (SELECT string_agg(format('t.%I', c), ', ') FROM unnest(cols) AS c),
        keys,
        (SELECT string_agg(format('d.%I IS NOT NULL', c), ' AND ') FROM unnest(cols) AS c));
END
$fn$;
COMMENT ON FUNCTION weir.unique_rows(anyelement, text[]) IS
    'Every row whose combination of key columns occurs more than once (keys with a NULL are not compared). '
    'Example: SELECT * FROM weir.unique_rows(NULL::raw.order_items, ARRAY[''order_id'', ''line_number''])';

CREATE OR REPLACE FUNCTION weir.unique_rows(rel anyelement, col text) RETURNS SETOF anyelement
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.unique_rows(rel, ARRAY[col])
$fn$;
COMMENT ON FUNCTION weir.unique_rows(anyelement, text) IS
    'Every row whose value of the column occurs more than once (NULLs are not compared). '
    'Example: SELECT * FROM weir.unique_rows(NULL::raw.customers, ''email'')';

-- MATCH SIMPLE semantics, as a foreign key: a child row with a NULL in its key refers
-- to nothing and is not a violation (not_null is the check for that).
CREATE OR REPLACE FUNCTION weir.relationships(rel anyelement, cols text[], parent text, parent_cols text[])
RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    child regclass := weir.row_relation(rel);
    target regclass := weir.resolve_relation(parent);
BEGIN
    PERFORM weir.require_columns(child, cols);
    PERFORM weir.require_columns(target, parent_cols);
    IF cardinality(cols) <> cardinality(parent_cols) THEN
        RAISE EXCEPTION '% child columns but % parent columns', cardinality(cols), cardinality(parent_cols)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'name one parent column for each child column, in order';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT t.* FROM %s AS t WHERE %s AND NOT EXISTS (SELECT FROM %s AS p WHERE %s)',
        weir.relation_name(child),
        (SELECT string_agg(format('t.%I IS NOT NULL', c), ' AND ') FROM unnest(cols) AS c),
        weir.relation_name(target),
        (SELECT string_agg(format('p.%I = t.%I', k.p, k.c), ' AND ') FROM unnest(cols, parent_cols) AS k (c, p)));
END
$fn$;
COMMENT ON FUNCTION weir.relationships(anyelement, text[], text, text[]) IS
    'Child rows whose key (all columns non-NULL) has no matching parent row. Example: '
    'SELECT * FROM weir.relationships(NULL::raw.shipments, ARRAY[''order_id'', ''line''], '
    '''raw.order_items'', ARRAY[''order_id'', ''line_number''])';

CREATE OR REPLACE FUNCTION weir.relationships(rel anyelement, col text, parent text, parent_col text)
RETURNS SETOF anyelement
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.relationships(rel, ARRAY[col], parent, ARRAY[parent_col])
$fn$;
COMMENT ON FUNCTION weir.relationships(anyelement, text, text, text) IS
    'Child rows whose non-NULL key has no parent row. '
    'Example: SELECT * FROM weir.relationships(NULL::raw.orders, ''customer_id'', ''raw.customers'', ''customer_id'')';

-- NULL is not a violation, as in CHECK (status IN (...)); not_null is the check for
-- that. The accepted values are cast to the column's type, so an enum, a number or a
-- varchar compares as itself (1.0 = 1), and a value the type cannot hold is an error.
CREATE OR REPLACE FUNCTION weir.accepted_values(rel anyelement, col text, accepted anycompatiblearray)
RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    target regclass := weir.row_relation(rel);
    array_type text;
BEGIN
    IF accepted IS NULL THEN
        RAISE EXCEPTION 'no accepted values given (got NULL)'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'pass an array, e.g. ARRAY[''placed'', ''paid'']';
    END IF;
    SELECT format_type(t.typarray, NULL) INTO array_type
    FROM pg_catalog.pg_type AS t
    WHERE t.oid = weir.column_type(target, col);
    RETURN QUERY EXECUTE format(
        'SELECT t.* FROM %s AS t WHERE t.%I IS NOT NULL AND NOT (t.%I = ANY ($1::%s))',
        weir.relation_name(target), col, col, array_type)
    USING array_remove(accepted::text[], NULL);
END
$fn$;
COMMENT ON FUNCTION weir.accepted_values(anyelement, text, anycompatiblearray) IS
    'Rows whose value is not one of the accepted values (NULL is accepted: use not_null for it). Example: '
    'SELECT * FROM weir.accepted_values(NULL::raw.orders, ''status'', ARRAY[''placed'', ''paid'', ''shipped''])';


-- SCD2 history: the versions of one natural key are intervals [valid_from, valid_to),
-- half-open, valid_to NULL while current (never ends). Keys with a NULL are not compared
-- (as unique_rows), nor versions without a valid_from (not_null is the check for that).
-- The column names default to Weir's own; a dbt snapshot passes its own names:
-- valid_from => 'dbt_valid_from', valid_to => 'dbt_valid_to'.
CREATE OR REPLACE FUNCTION weir.scd2_one_current(rel anyelement, natural_key text[], valid_to text DEFAULT 'valid_to')
RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    target regclass := weir.row_relation(rel);
    keys text;
BEGIN
    PERFORM weir.require_columns(target, natural_key || valid_to);
    keys := (SELECT string_agg(format('%I', c), ', ') FROM unnest(natural_key) AS c);
    RETURN QUERY EXECUTE format(
        'SELECT t.* FROM %1$s AS t WHERE t.%3$I IS NULL AND (%2$s) IN ('
        ' SELECT %4$s FROM %1$s AS c WHERE c.%3$I IS NULL AND %5$s GROUP BY %4$s HAVING count(*) > 1)'
        ' ORDER BY %2$s',
        weir.relation_name(target),
        (SELECT string_agg(format('t.%I', c), ', ') FROM unnest(natural_key) AS c),
        valid_to,
        keys,
        (SELECT string_agg(format('c.%I IS NOT NULL', c), ' AND ') FROM unnest(natural_key) AS c));
END
$fn$;
COMMENT ON FUNCTION weir.scd2_one_current(anyelement, text[], text) IS
    'Every current version (valid_to NULL) of a natural key that has more than one. '
    'Example: SELECT * FROM weir.scd2_one_current(NULL::marts.dim_customer, ARRAY[''customer_id''])';

CREATE OR REPLACE FUNCTION weir.scd2_one_current(rel anyelement, natural_key text, valid_to text DEFAULT 'valid_to')
RETURNS SETOF anyelement
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.scd2_one_current(rel, ARRAY[natural_key], valid_to)
$fn$;
COMMENT ON FUNCTION weir.scd2_one_current(anyelement, text, text) IS
    'Every current version (valid_to NULL) of a natural key that has more than one. '
    'Example: SELECT * FROM weir.scd2_one_current(NULL::marts.dim_customer, ''customer_id'')';

-- The versions of each key in valid_from order, with what the window around each says:
-- whether an earlier version is still open or ends after this one starts, where the one
-- just before ends and where the one just after starts. One sort per check.
CREATE OR REPLACE FUNCTION weir.scd2_neighbours(
    target regclass, natural_key text[], valid_from text, valid_to text, violation text
) RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    PERFORM weir.require_columns(target, natural_key || valid_from || valid_to);
    RETURN format(
        'SELECT (v.r).* FROM ('
        ' SELECT t AS r, t.%3$I AS starts, t.%4$I AS ends,'
        '  bool_or(t.%4$I IS NULL) OVER earlier AS earlier_open, max(t.%4$I) OVER earlier AS earlier_end,'
        '  lag(t.%4$I) OVER w AS previous_end, lead(t.%3$I) OVER w AS next_start'
        ' FROM %1$s AS t WHERE t.%3$I IS NOT NULL AND %5$s'
        ' WINDOW w AS (PARTITION BY %2$s ORDER BY t.%3$I),'
        '  earlier AS (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)'
        ') AS v WHERE %6$s ORDER BY %7$s, (v.r).%3$I',
        weir.relation_name(target),
        (SELECT string_agg(format('t.%I', c), ', ') FROM unnest(natural_key) AS c),
        valid_from,
        valid_to,
        (SELECT string_agg(format('t.%I IS NOT NULL', c), ' AND ') FROM unnest(natural_key) AS c),
        violation,
        (SELECT string_agg(format('(v.r).%I', c), ', ') FROM unnest(natural_key) AS c));
END
$fn$;
COMMENT ON FUNCTION weir.scd2_neighbours(regclass, text[], text, text, text) IS
    'The query behind scd2_overlaps and scd2_gaps: versions in order with their neighbours, filtered by `violation`. '
    'Example: SELECT weir.scd2_neighbours(''marts.dim_customer'', ARRAY[''customer_id''], ''valid_from'', ''valid_to'', ''v.ends IS NULL'')';

CREATE OR REPLACE FUNCTION weir.scd2_overlaps(
    rel anyelement, natural_key text[], valid_from text DEFAULT 'valid_from', valid_to text DEFAULT 'valid_to'
) RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    RETURN QUERY EXECUTE weir.scd2_neighbours(
        weir.row_relation(rel), natural_key, valid_from, valid_to,
        'v.earlier_open OR v.earlier_end > v.starts OR (v.next_start IS NOT NULL AND (v.ends IS NULL OR v.next_start < v.ends))');
END
$fn$;
COMMENT ON FUNCTION weir.scd2_overlaps(anyelement, text[], text, text) IS
    'Every version valid at an instant when another version of its key is valid too (both of each overlapping pair). '
    'Example: SELECT * FROM weir.scd2_overlaps(NULL::marts.dim_customer, ARRAY[''customer_id''])';

CREATE OR REPLACE FUNCTION weir.scd2_overlaps(
    rel anyelement, natural_key text, valid_from text DEFAULT 'valid_from', valid_to text DEFAULT 'valid_to'
) RETURNS SETOF anyelement
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.scd2_overlaps(rel, ARRAY[natural_key], valid_from, valid_to)
$fn$;
COMMENT ON FUNCTION weir.scd2_overlaps(anyelement, text, text, text) IS
    'Every version valid at an instant when another version of its key is valid too. '
    'Example: SELECT * FROM weir.scd2_overlaps(NULL::marts.dim_customer, ''customer_id'')';

-- A key whose versions must follow each other without a break: a Weir model with
-- on_delete=close leaves a gap, by design, when a deleted key comes back.
CREATE OR REPLACE FUNCTION weir.scd2_gaps(
    rel anyelement, natural_key text[], valid_from text DEFAULT 'valid_from', valid_to text DEFAULT 'valid_to'
) RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    RETURN QUERY EXECUTE weir.scd2_neighbours(
        weir.row_relation(rel), natural_key, valid_from, valid_to,
        'v.previous_end < v.starts OR v.ends < v.next_start');
END
$fn$;
COMMENT ON FUNCTION weir.scd2_gaps(anyelement, text[], text, text) IS
    'The versions on both sides of a gap: a version that ends before the next version of its key starts, and that next one. '
    'Example: SELECT * FROM weir.scd2_gaps(NULL::marts.dim_customer, ARRAY[''customer_id''])';

CREATE OR REPLACE FUNCTION weir.scd2_gaps(
    rel anyelement, natural_key text, valid_from text DEFAULT 'valid_from', valid_to text DEFAULT 'valid_to'
) RETURNS SETOF anyelement
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.scd2_gaps(rel, ARRAY[natural_key], valid_from, valid_to)
$fn$;
COMMENT ON FUNCTION weir.scd2_gaps(anyelement, text, text, text) IS
    'The versions on both sides of a gap in the history of their key. '
    'Example: SELECT * FROM weir.scd2_gaps(NULL::marts.dim_customer, ''customer_id'')';

---------------------------------------------------------------------------------------
-- Aggregate checks: one row describing the violation, or none.
---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION weir.row_count_between(rel regclass, min bigint, max bigint)
RETURNS TABLE (relation text, row_count bigint, min_expected bigint, max_expected bigint)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    target text := weir.relation_name(rel);
    counted bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', target) INTO counted;
    IF counted < min OR counted > max THEN
        RETURN QUERY SELECT target, counted, min, max;
    END IF;
END
$fn$;
COMMENT ON FUNCTION weir.row_count_between(regclass, bigint, bigint) IS
    'One row when the row count is outside [min, max] (a NULL bound is no bound). '
    'Example: SELECT * FROM weir.row_count_between(''raw.orders'', 1, 50000000)';

CREATE OR REPLACE FUNCTION weir.row_count_between(rel text, min bigint, max bigint)
RETURNS TABLE (relation text, row_count bigint, min_expected bigint, max_expected bigint)
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.row_count_between(weir.resolve_relation(rel), min, max)
$fn$;
COMMENT ON FUNCTION weir.row_count_between(text, bigint, bigint) IS
    'row_count_between for a relation given by name. '
    'Example: SELECT * FROM weir.row_count_between(''raw.orders'', 1, NULL)';

-- An empty relation has no null rate and returns nothing: row_count_between is the
-- check for emptiness.
CREATE OR REPLACE FUNCTION weir.null_rate(rel regclass, col text, max_allowed numeric)
RETURNS TABLE (relation text, column_name text, null_rate numeric, max_rate numeric, rows bigint)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    target text := weir.relation_name(rel);
    total bigint;
    nulls bigint;
BEGIN
    PERFORM weir.column_type(rel, col);
    IF max_allowed IS NULL OR max_allowed < 0 OR max_allowed > 1 THEN
        RAISE EXCEPTION 'max_allowed must be a fraction between 0 and 1, got %', coalesce(max_allowed::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. 0.05 for at most 5% NULLs';
    END IF;
    EXECUTE format('SELECT count(*), count(*) - count(t.%I) FROM %s AS t', col, target) INTO total, nulls;
    IF total > 0 AND nulls::numeric / total > max_allowed THEN
        RETURN QUERY SELECT target, col, round(nulls::numeric / total, 6), max_allowed, total;
    END IF;
END
$fn$;
COMMENT ON FUNCTION weir.null_rate(regclass, text, numeric) IS
    'One row when the fraction of NULLs in the column is above max_allowed (0 to 1; an empty table passes). '
    'Example: SELECT * FROM weir.null_rate(''raw.customers'', ''email'', 0.05)';

CREATE OR REPLACE FUNCTION weir.null_rate(rel text, col text, max_allowed numeric)
RETURNS TABLE (relation text, column_name text, null_rate numeric, max_rate numeric, rows bigint)
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.null_rate(weir.resolve_relation(rel), col, max_allowed)
$fn$;
COMMENT ON FUNCTION weir.null_rate(text, text, numeric) IS
    'null_rate for a relation given by name. Example: SELECT * FROM weir.null_rate(''raw.customers'', ''email'', 0)';

-- A timestamp or date column is read in the session's TimeZone. An empty relation
-- (or a column of NULLs) is infinitely stale: one row with newest and age NULL.
CREATE OR REPLACE FUNCTION weir.freshness(rel regclass, col text, max_allowed interval)
RETURNS TABLE (relation text, column_name text, newest timestamptz, age interval, max_age interval)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    target text := weir.relation_name(rel);
    col_type regtype := weir.column_type(rel, col);
    latest timestamptz;
BEGIN
    IF col_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
        RAISE EXCEPTION 'column "%" of % is %, not a date or timestamp', col, target, col_type
            USING ERRCODE = 'datatype_mismatch', HINT = 'freshness reads a timestamptz, timestamp or date column';
    END IF;
    IF max_allowed IS NULL THEN
        RAISE EXCEPTION 'max_allowed must be an interval, got NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'e.g. ''1 day''';
    END IF;
    -- max() of the column itself, so an index on it answers from its last page.
    EXECUTE format('SELECT max(t.%I)::timestamptz FROM %s AS t', col, target) INTO latest;
    IF latest IS NULL OR now() - latest > max_allowed THEN
        RETURN QUERY SELECT target, col, latest, date_trunc('second', now() - latest), max_allowed;
    END IF;
END
$fn$;
COMMENT ON FUNCTION weir.freshness(regclass, text, interval) IS
    'One row when the newest value of the column is older than max_allowed (or there is none). '
    'Example: SELECT * FROM weir.freshness(''raw.orders'', ''ordered_at'', ''1 day'')';

CREATE OR REPLACE FUNCTION weir.freshness(rel text, col text, max_allowed interval)
RETURNS TABLE (relation text, column_name text, newest timestamptz, age interval, max_age interval)
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.freshness(weir.resolve_relation(rel), col, max_allowed)
$fn$;
COMMENT ON FUNCTION weir.freshness(text, text, interval) IS
    'freshness for a relation given by name. Example: SELECT * FROM weir.freshness(''raw.orders'', ''ordered_at'', ''6 hours'')';

-- Volume anomaly: is the row count of the latest complete period out of line with the
-- table's own history?
--
-- 1. Count rows per period (in the session's TimeZone) for the `history` periods before
--    the latest complete one, and for that one; a period without rows counts 0 (a load
--    that stopped is the drop to catch). Periods before the first one with any rows are
--    not history: the table did not exist or was not loaded yet.
-- 2. Fewer than `min_history` periods of history: no verdict, no row.
-- 3. Trend: the Theil-Sen slope, the median of the slopes between every pair of periods
--    (outliers move a median little; consecutive differences alone would read a sawtooth
--    of noise as a trend). The pairs grow with history squared, hence history <= 1000.
-- 4. Expectation: the median of the last three periods, each carried forward along the
--    slope to the evaluated period. Robust to one odd period, and it follows a lasting
--    change of level within two periods.
-- 5. Spread: the same forecast is replayed over the history (each period predicted from
--    up to three before it); the spread is 1.4826 * the median absolute forecast error,
--    a robust standard deviation of what this forecast gets wrong on this table.
-- 6. The expected range is expected +- greatest(threshold * spread, floor): a flat history
--    (spread 0) is held to the absolute floor, a noisy one to its own noise.
-- Weekly seasonality in daily data reads as noise (a wide range): count by '1 week' to
-- catch drops in such tables.
CREATE OR REPLACE FUNCTION weir.volume_anomaly(
    rel regclass,
    time_column text,
    period interval DEFAULT '1 day',
    history integer DEFAULT 28,
    min_history integer DEFAULT 7,
    threshold numeric DEFAULT 4,
    floor bigint DEFAULT 10,
    as_of timestamptz DEFAULT now()
)
RETURNS TABLE (
    relation text, period_start timestamptz, observed bigint, expected numeric, low numeric, high numeric, reason text
)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    target text := weir.relation_name(rel);
    col_type regtype := weir.column_type(rel, time_column);
    months integer := extract(year FROM period) * 12 + extract(month FROM period);
    bounds text;
    evaluated timestamp;  -- start of the latest complete period, local time
    starts timestamp[];
    counts bigint[];
    hist numeric[];
    first_loaded integer;
    n integer;
    slope numeric;
    spread numeric;
    forecast numeric;
    half numeric;
    seen bigint;
BEGIN
    IF period IS NULL OR (months = 0 AND period <= interval '0')
       OR (months <> 0 AND (months < 0 OR period <> make_interval(months => months))) THEN
        RAISE EXCEPTION 'period must be a positive interval of time or of whole months, got %',
                        coalesce(period::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. ''1 hour'', ''1 day'', ''1 week'' or ''1 month''';
    END IF;
    IF history IS NULL OR min_history IS NULL OR min_history < 2 OR history < min_history OR history > 1000 THEN
        RAISE EXCEPTION 'need 2 <= min_history <= history <= 1000, got min_history % and history %',
                        coalesce(min_history::text, 'NULL'), coalesce(history::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. history => 28, min_history => 7';
    END IF;
    IF threshold IS NULL OR threshold <= 0 OR floor IS NULL OR floor < 0 OR as_of IS NULL THEN
        RAISE EXCEPTION 'threshold must be positive, floor zero or more and as_of a time; got %, % and %',
                        coalesce(threshold::text, 'NULL'), coalesce(floor::text, 'NULL'), coalesce(as_of::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. threshold => 4, floor => 10';
    END IF;
    -- Period bounds of the column's own type ($1, $2 for timestamptz: local starts in
    -- the session's TimeZone; $3, $4 otherwise), so an index on the column serves the
    -- range and width_bucket() places each row with a binary search, no per-row casts.
    IF col_type = 'timestamptz'::regtype THEN
        bounds := '$1';
    ELSIF col_type IN ('timestamp'::regtype, 'date'::regtype) THEN
        bounds := '$3';
    ELSE
        RAISE EXCEPTION 'column "%" of % is %, not a date or timestamp', time_column, target, col_type
            USING ERRCODE = 'datatype_mismatch', HINT = 'volume_anomaly counts rows by a timestamptz, timestamp or date column';
    END IF;

    evaluated := weir.period_start(as_of::timestamp, period) - period;
    starts := ARRAY(SELECT generate_series(evaluated - history * period, evaluated, period));
    EXECUTE format(
        'SELECT array_agg(coalesce(c.n, 0) ORDER BY s.i)'
        ' FROM generate_series(1, cardinality(%3$s)) AS s (i)'
        ' LEFT JOIN ('
        '  SELECT width_bucket(t.%1$I, %3$s) AS i, count(*) AS n FROM %2$s AS t'
        '  WHERE t.%1$I >= (%3$s)[1] AND t.%1$I < %4$s GROUP BY 1'
        ' ) AS c ON c.i = s.i',
        time_column, target, bounds, CASE bounds WHEN '$1' THEN '$2' ELSE '$4' END)
    INTO counts
    USING starts::timestamptz[], (evaluated + period)::timestamptz, starts, evaluated + period;

    seen := counts[history + 1];
    first_loaded := (SELECT min(i) FROM generate_subscripts(counts, 1) AS i WHERE counts[i] > 0);
    n := history + 1 - coalesce(first_loaded, history + 1);
    IF n < min_history THEN
        RETURN;
    END IF;
    hist := counts[first_loaded:history];

    slope := coalesce((
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY (hist[j] - hist[i]) / (j - i))
        FROM generate_series(1, n - 1) AS i
        CROSS JOIN LATERAL generate_series(i + 1, n) AS j), 0);
    spread := 1.4826 * (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(hist[j] - (
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY hist[k] + slope * (j - k))
            FROM generate_series(greatest(j - 3, 1), j - 1) AS k)))
        FROM generate_series(2, n) AS j);
    forecast := greatest((
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY hist[k] + slope * (n + 1 - k))
        FROM generate_series(greatest(n - 2, 1), n) AS k), 0);
    half := greatest(threshold * spread, floor);

    IF seen < forecast - half OR seen > forecast + half THEN
        RETURN QUERY SELECT
            target,
            evaluated::timestamptz,
            seen,
            round(forecast, 1),
            round(greatest(forecast - half, 0), 1),
            round(forecast + half, 1),
            format('%s: %s rows, expected %s to %s from %s periods of history%s',
                   CASE WHEN seen < forecast THEN 'drop' ELSE 'spike' END,
                   seen, round(greatest(forecast - half, 0)), round(forecast + half), n,
                   CASE WHEN seen = 0 THEN ' (no rows at all)' ELSE '' END);
    END IF;
END
$fn$;
COMMENT ON FUNCTION weir.volume_anomaly(regclass, text, interval, integer, integer, numeric, bigint, timestamptz) IS
    'One row when the row count of the latest complete period (before as_of) is outside the range learned from '
    'the table''s own history: trend = Theil-Sen slope (median of pairwise slopes), expected = median of the last three '
    'periods carried along that trend, range = expected +- max(threshold * 1.4826 * median absolute error of that '
    'forecast replayed over the history, floor). No row with fewer than min_history periods of history. '
    'Example: SELECT * FROM weir.volume_anomaly(''raw.orders'', ''ordered_at'', ''1 day'', history => 28)';

CREATE OR REPLACE FUNCTION weir.volume_anomaly(
    rel text,
    time_column text,
    period interval DEFAULT '1 day',
    history integer DEFAULT 28,
    min_history integer DEFAULT 7,
    threshold numeric DEFAULT 4,
    floor bigint DEFAULT 10,
    as_of timestamptz DEFAULT now()
)
RETURNS TABLE (
    relation text, period_start timestamptz, observed bigint, expected numeric, low numeric, high numeric, reason text
)
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.volume_anomaly(
        weir.resolve_relation(rel), time_column, period, history, min_history, threshold, floor, as_of)
$fn$;
COMMENT ON FUNCTION weir.volume_anomaly(text, text, interval, integer, integer, numeric, bigint, timestamptz) IS
    'volume_anomaly for a relation given by name. '
    'Example: SELECT * FROM weir.volume_anomaly(''raw.orders'', ''ordered_at'', period => ''1 week'', history => 12)';

-- Expected types are compared by type; a type written with a modifier (numeric(12,2),
-- varchar(100), timestamp(3)) is also compared by that modifier.
CREATE OR REPLACE FUNCTION weir.type_matches(expected text, actual_type oid, actual_typmod integer) RETURNS boolean
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    expected_type regtype := to_regtype(expected);
    wanted text := replace(substring(expected FROM '\(([^)]*)\)'), ' ', '');
    found text := replace(substring(format_type(actual_type, actual_typmod) FROM '\(([^)]*)\)'), ' ', '');
BEGIN
    IF expected_type IS NULL THEN
        RAISE EXCEPTION 'expected type "%" is not a type', expected
            USING ERRCODE = 'undefined_object', HINT = 'write types as in CREATE TABLE, e.g. "bigint" or "numeric(12,2)"';
    END IF;
    IF expected_type <> actual_type THEN
        RETURN false;
    END IF;
    IF wanted IS NULL THEN
        RETURN true;
    END IF;
    IF expected_type = 'numeric'::regtype AND wanted !~ ',' THEN
        wanted := wanted || ',0';  -- numeric(12) is numeric(12,0)
    END IF;
    RETURN wanted IS NOT DISTINCT FROM found;
END
$fn$;
COMMENT ON FUNCTION weir.type_matches(text, oid, integer) IS
    'Whether a column''s type is the expected one (and its modifier, when one is written). '
    'Example: SELECT weir.type_matches(''varchar(100)'', ''varchar''::regtype, 104)';

CREATE OR REPLACE FUNCTION weir.expected_columns(rel regclass, expected jsonb, allow_extra boolean DEFAULT true)
RETURNS TABLE (relation text, column_name text, expected_type text, actual_type text, problem text)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    target text := weir.relation_name(rel);
    bad text;
BEGIN
    IF jsonb_typeof(expected) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'expected columns must be a JSON object, got %', coalesce(expected::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. ''{"order_id": "bigint", "status": "text"}''';
    END IF;
    SELECT min(e.key) INTO bad FROM jsonb_each(expected) AS e WHERE jsonb_typeof(e.value) <> 'string';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'expected type of column "%" must be a string, got %', bad, expected -> bad
            USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. ''{"order_id": "bigint"}''';
    END IF;
    RETURN QUERY
    WITH wanted AS (
        SELECT e.key AS name, e.value AS type_name FROM jsonb_each_text(expected) AS e
    ), present AS (
        SELECT a.attname::text AS name, a.attnum, a.atttypid, a.atttypmod
        FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
    )
    SELECT target, coalesce(w.name, p.name), w.type_name, format_type(p.atttypid, p.atttypmod),
           CASE WHEN p.name IS NULL THEN 'missing' WHEN w.name IS NULL THEN 'extra' ELSE 'unexpected type' END
    FROM wanted AS w
    FULL JOIN present AS p ON p.name = w.name
    WHERE (p.name IS NULL)
       OR (w.name IS NULL AND NOT allow_extra)
       OR (w.name IS NOT NULL AND p.name IS NOT NULL AND NOT weir.type_matches(w.type_name, p.atttypid, p.atttypmod))
    ORDER BY p.attnum NULLS LAST, w.name;
END
$fn$;
COMMENT ON FUNCTION weir.expected_columns(regclass, jsonb, boolean) IS
    'One row per column that is missing, of an unexpected type, or (allow_extra => false) not expected. '
    'Example: SELECT * FROM weir.expected_columns(''raw.orders'', ''{"order_id": "bigint", "status": "text"}'')';

CREATE OR REPLACE FUNCTION weir.expected_columns(rel text, expected jsonb, allow_extra boolean DEFAULT true)
RETURNS TABLE (relation text, column_name text, expected_type text, actual_type text, problem text)
LANGUAGE sql STABLE
AS $fn$
    SELECT * FROM weir.expected_columns(weir.resolve_relation(rel), expected, allow_extra)
$fn$;
COMMENT ON FUNCTION weir.expected_columns(text, jsonb, boolean) IS
    'expected_columns for a relation given by name. '
    'Example: SELECT * FROM weir.expected_columns(''raw.orders'', ''{"order_id": "bigint"}'', allow_extra => false)';
