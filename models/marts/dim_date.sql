-- weir: kind=table, tags="marts dimensions"
-- weir: description="One row per day of every year with orders; date_key is YYYYMMDD."
-- Whole years, so the spine stays the same while orders arrive within them.
SELECT
    d.date_day,
    to_char(d.date_day, 'YYYYMMDD')::integer AS date_key,
    extract(YEAR FROM d.date_day)::integer AS year_number,
    extract(QUARTER FROM d.date_day)::integer AS quarter_number,
    extract(MONTH FROM d.date_day)::integer AS month_number,
    to_char(d.date_day, 'FMMonth') AS month_name,
    extract(DAY FROM d.date_day)::integer AS day_of_month,
    extract(ISODOW FROM d.date_day)::integer AS iso_day_of_week,
    to_char(d.date_day, 'FMDay') AS day_name,
    extract(WEEK FROM d.date_day)::integer AS iso_week_number,
    extract(ISODOW FROM d.date_day) IN (6, 7) AS is_weekend
FROM (
    SELECT (b.first_day + s.n)::date AS date_day
    FROM
        (
            SELECT
                date_trunc('year', min(o.ordered_at) AT TIME ZONE 'UTC')::date AS first_day,
                (date_trunc('year', max(o.ordered_at) AT TIME ZONE 'UTC') + interval '1 year')::date AS after_last
            FROM staging.stg_orders AS o
        ) AS b,
        generate_series(0, b.after_last - b.first_day - 1) AS s (n)
) AS d;
