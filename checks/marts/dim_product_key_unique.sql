-- weir: tags="marts dimensions products"
-- weir: description="product_key identifies one row of dim_product: the fact joins on it."
-- dim_product is rebuilt with CREATE TABLE AS and has no primary key to enforce this.
SELECT * FROM weir.unique_rows(NULL::marts.dim_product, 'product_key');
