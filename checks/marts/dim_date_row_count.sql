-- weir: tags="marts dimensions dates"
-- weir: description="dim_date spans whole years: one to ten of them (365 to 3653 days)."
SELECT * FROM weir.row_count_between('marts.dim_date', 365, 3653);
