-- Weir's record of loaded CSV seeds (runner.build.seeds). Created on first use, idempotent.
-- A row is written in the same transaction that swaps the seed's new table in, so the
-- table and its record are never out of step.
CREATE SCHEMA IF NOT EXISTS weir;

CREATE TABLE IF NOT EXISTS weir.seed_state (
    seed text PRIMARY KEY,
    checksum text NOT NULL,
    stamp text NOT NULL,
    columns jsonb NOT NULL,
    rows_loaded bigint NOT NULL CHECK (rows_loaded >= 0),
    relid oid NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE weir.seed_state IS
'One row per loaded seed (seeds/<schema>/<name>.csv), written with the swap of its table';
COMMENT ON COLUMN weir.seed_state.seed IS 'schema.name of the table the seed loads';
COMMENT ON COLUMN weir.seed_state.checksum IS 'SHA-256 of the CSV bytes and the types file the last load used';
COMMENT ON COLUMN weir.seed_state.stamp IS
'The CSV''s size and modification time, and its types file''s checksum: the same stamp skips the checksum';
COMMENT ON COLUMN weir.seed_state.columns IS 'The columns loaded: [[name, type, "declared" or "inferred"], ...]';
COMMENT ON COLUMN weir.seed_state.relid IS
'OID of the table the load created: another OID (the table dropped and made again) means load again';
