-- weir: tags="marts facts freshness"
-- weir: description="The fact has caught up with raw: its newest change is at most an hour behind raw's newest."
-- Freshness relative to the source, not the wall clock (the sample data ends at a fixed
-- instant): a fact row's updated_at is the later of its line's and its order's, so after
-- a build the fact's newest equals raw's newest. Both raw maxima come from their
-- updated_at indexes. Fails when raw changed and nobody ran weir build.
SELECT * FROM weir.freshness(
    'marts.fact_order_items', 'updated_at',
    now() - greatest(
        (SELECT max(o.updated_at) FROM raw.orders AS o),
        (SELECT max(i.updated_at) FROM raw.order_items AS i)
    ) + interval '1 hour'
);
