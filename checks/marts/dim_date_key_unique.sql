-- weir: tags="marts dimensions dates"
-- weir: description="One dim_date row per day, and date_key (YYYYMMDD) names exactly one of them."
SELECT * FROM weir.unique_rows(NULL::marts.dim_date, 'date_key')
UNION ALL
SELECT * FROM weir.unique_rows(NULL::marts.dim_date, ARRAY['year_number', 'month_number', 'day_of_month']);
