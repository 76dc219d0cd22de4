-- build_state version 5: `weir freshness` asks, per model, when a build last skipped it
-- (nothing it reads had changed, so its data was current then). Without an index that
-- aggregated every skipped row of the whole history; with this one it reads one index
-- entry per model.
CREATE INDEX IF NOT EXISTS build_result_skipped_idx ON weir.build_result (model, finished_at)
    WHERE status = 'skipped';
