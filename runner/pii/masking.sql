-- Weir's masking functions, installed in schema weir when a model calls one. Plain SQL and
-- PL/pgSQL, so they work from psql too. NULL in, NULL out.
--
-- weir.pii_hash(value)   keyed pseudonym: hex HMAC-SHA256 of the value under weir.pii_key. The
--                        same value gives the same pseudonym for one key (joins still work),
--                        another key gives another; without the key it cannot be recomputed.
-- weir.mask_email(value) 'jane.doe@example.com' -> 'j***@example.com'
-- weir.mask_phone(value) '+1 555-123-4567'      -> '+* ***-***-4567' (the last four digits kept)
-- weir.redact(value)     any value -> '[redacted]'
--
-- The key is the setting weir.pii_key: Weir passes it from the environment variable
-- WEIR_PII_KEY when it connects (in the startup packet, so no statement or log holds it), or a
-- DBA sets it for the building role (ALTER ROLE ... SET weir.pii_key). Never in a file.
CREATE SCHEMA IF NOT EXISTS weir;

CREATE OR REPLACE FUNCTION weir.masking_version() RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'see this function''s comment' $$;

CREATE OR REPLACE FUNCTION weir.pii_key() RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    key text := current_setting('weir.pii_key', true);
BEGIN
    IF key IS NULL OR key = '' THEN
        RAISE EXCEPTION 'weir.pii_key is not set, so PII cannot be hashed'
            USING ERRCODE = '22023',
                  HINT = 'export WEIR_PII_KEY (at least 16 characters) before running weir, or ALTER ROLE ... SET weir.pii_key';
    END IF;
    IF length(key) < 16 THEN
        RAISE EXCEPTION 'weir.pii_key is shorter than 16 characters'
            USING ERRCODE = '22023', HINT = 'use a longer random key, e.g. openssl rand -hex 32';
    END IF;
    RETURN convert_to(key, 'UTF8');
END
$$;

-- The 64-byte HMAC block key XOR a repeated pad byte (given as two hex digits), eight
-- bigints at a time: bytea has no XOR, bit strings do.
CREATE OR REPLACE FUNCTION weir.hmac_pad(block_key bytea, pad text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT decode(string_agg(lpad(to_hex(substring(x FROM 1 + 64 * i FOR 64)::bigint), 16, '0'), '' ORDER BY i), 'hex')
    FROM (SELECT ('x' || rpad(encode(block_key, 'hex'), 128, '0'))::bit(512) # ('x' || repeat(pad, 64))::bit(512) AS x) AS k,
         generate_series(0, 7) AS i
$$;

-- HMAC-SHA256 (RFC 2104) with the built-in sha256(), so no extension is needed.
CREATE OR REPLACE FUNCTION weir.hmac_sha256(message bytea, key bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sha256(weir.hmac_pad(block_key, '5c') || sha256(weir.hmac_pad(block_key, '36') || message))
    FROM (SELECT CASE WHEN length(key) > 64 THEN sha256(key) ELSE key END AS block_key) AS k
$$;

CREATE OR REPLACE FUNCTION weir.pii_hash(value text) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(weir.hmac_sha256(convert_to(value, 'UTF8'), weir.pii_key()), 'hex')
$$;

CREATE OR REPLACE FUNCTION weir.mask_email(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN position('@' IN value) > 1
                THEN left(value, 1) || '***@' || split_part(value, '@', -1)
                ELSE '***' END
$$;

CREATE OR REPLACE FUNCTION weir.mask_phone(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    digits_left int := length(regexp_replace(value, '[^0-9]', '', 'g'));
    masked text := '';
    c text;
BEGIN
    FOREACH c IN ARRAY regexp_split_to_array(value, '') LOOP
        IF c ~ '[0-9]' THEN
            masked := masked || CASE WHEN digits_left > 4 THEN '*' ELSE c END;
            digits_left := digits_left - 1;
        ELSE
            masked := masked || c;
        END IF;
    END LOOP;
    RETURN masked;
END
$$;

CREATE OR REPLACE FUNCTION weir.redact(value anyelement) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value IS NULL THEN NULL ELSE '[redacted]' END
$$;

-- A check's failing row (as jsonb) with each PII column shown through its mask: masks maps a
-- column name to email, phone or redact. What checks print and store in their history.
CREATE OR REPLACE FUNCTION weir.mask_row(row_json jsonb, masks jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(key, CASE
               WHEN NOT masks ? key OR value = 'null'::jsonb THEN value
               WHEN masks ->> key = 'email' THEN to_jsonb(weir.mask_email(value #>> '{}'))
               WHEN masks ->> key = 'phone' THEN to_jsonb(weir.mask_phone(value #>> '{}'))
               ELSE to_jsonb('[redacted]'::text) END), '{}'::jsonb)
    FROM jsonb_each(row_json)
$$;
