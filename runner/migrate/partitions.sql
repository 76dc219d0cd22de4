-- weir.create_partitions: what a migration calls to partition a table it owns the way Weir
-- partitions models (runner/build/materialize/partitions.py): same names, same UTC periods.
-- Installed by weir migrate before a migration that calls it runs. Plain PL/pgSQL: works from psql.
--
--   CREATE TABLE raw.events (..., at timestamptz NOT NULL) PARTITION BY RANGE (at);
--   SELECT weir.create_partitions('raw.events', 'month', '2024-01-01', '2027-12-31');
--
-- makes raw.events_p202401 ... raw.events_p202712 unless they exist, and returns how many it made.
CREATE SCHEMA IF NOT EXISTS weir;

CREATE OR REPLACE FUNCTION weir.partitions_version() RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'see this function''s comment' $$;

CREATE OR REPLACE FUNCTION weir.create_partitions(
    parent regclass, granularity text, from_time timestamptz, to_time timestamptz
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    step interval;
    pattern text;
    period timestamptz;
    parent_schema text;
    parent_name text;
    suffix text;
    child text;
    made integer := 0;
BEGIN
    IF granularity NOT IN ('day', 'month', 'year') THEN
        RAISE EXCEPTION 'weir.create_partitions: granularity % is not day, month or year', quote_literal(granularity)
            USING ERRCODE = '22023';
    END IF;
    step := ('1 ' || granularity)::interval;
    pattern := CASE granularity WHEN 'day' THEN 'YYYYMMDD' WHEN 'month' THEN 'YYYYMM' ELSE 'YYYY' END;
    SELECT n.nspname, c.relname INTO parent_schema, parent_name
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = parent AND c.relkind = 'p';
    IF parent_name IS NULL THEN
        RAISE EXCEPTION 'weir.create_partitions: % is not a partitioned table', parent
            USING ERRCODE = '42809', HINT = 'create it with PARTITION BY RANGE (column) first';
    END IF;
    period := date_trunc(granularity, from_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE period <= to_time LOOP
        suffix := '_p' || to_char(period AT TIME ZONE 'UTC', pattern);
        -- shortened like Weir's derived names, so the result fits PostgreSQL's 63 bytes
        child := convert_from(substring(convert_to(parent_name, 'UTF8') FOR 63 - octet_length(suffix)), 'UTF8')
                 || suffix;
        IF to_regclass(format('%I.%I', parent_schema, child)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                           parent_schema, child, parent, period, period + step);
            made := made + 1;
        END IF;
        period := period + step;
    END LOOP;
    RETURN made;
END
$$;
