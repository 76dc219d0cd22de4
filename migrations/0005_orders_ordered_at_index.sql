-- transactional: false
-- Index raw.orders by ordered_at, for the daily rollup and date-range reports.
-- Built CONCURRENTLY so a busy orders table keeps taking writes while it builds;
-- PostgreSQL refuses that inside a transaction, hence the header above. If the build
-- fails it leaves an INVALID index behind: drop it (see the rollback) and re-run.

CREATE INDEX CONCURRENTLY orders_ordered_at_idx ON raw.orders (ordered_at);

COMMENT ON INDEX raw.orders_ordered_at_idx IS 'Orders by the instant they were placed.';
