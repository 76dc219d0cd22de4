-- weir: tags="raw orders"
-- weir: description="raw.order_items is loaded and below a billion lines: empty means the load did not run."
SELECT * FROM weir.row_count_between('raw.order_items', 1, 1000000000);
