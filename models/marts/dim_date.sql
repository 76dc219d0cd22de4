-- weir: kind=table, tags="marts dimensions"
-- weir: description="One row per day of every year with orders; date_key is YYYYMMDD."
-- Whole years, so the spine stays the same while orders arrive within them.
SELECT
    d.date_day, -- The day.
    to_char(d.date_day, 'YYYYMMDD')::integer AS date_key, -- Key of the dimension: the day as YYYYMMDD.
    extract(YEAR FROM d.date_day)::integer AS year_number, -- Calendar year.
    extract(QUARTER FROM d.date_day)::integer AS quarter_number, -- Quarter of the year, 1 to 4.
    extract(MONTH FROM d.date_day)::integer AS month_number, -- Month of the year, 1 to 12.
    to_char(d.date_day, 'FMMonth') AS month_name, -- Month name in English.
    extract(DAY FROM d.date_day)::integer AS day_of_month, -- Day of the month, 1 to 31.
    extract(ISODOW FROM d.date_day)::integer AS iso_day_of_week, -- ISO day of the week: 1 Monday to 7 Sunday.
    to_char(d.date_day, 'FMDay') AS day_name, -- Day name in English.
    extract(WEEK FROM d.date_day)::integer AS iso_week_number, -- ISO week of the year.
    extract(ISODOW FROM d.date_day) IN (6, 7) AS is_weekend -- Saturday or Sunday.
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
