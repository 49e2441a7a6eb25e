-- Price filters in search, read in the index. Each search row gets eight more filter keys, second
-- after its own category (so that every other key keeps its position: the facets read the first
-- and the last three by position, pg-engine.ts, and the release before reads the table as it did):
--  - its fine price band (`f:<n>`, product_price_band(): each price bucket of the facets cut in
--    ten, and four more above the last), found at the two ends of a range;
--  - for each bound between price buckets, which side of it the price is: `u:<k>` below bucket k
--    (the price is under its lower bound), `o:<k>` in bucket k or above it.
-- A range is then found by one key for the buckets it covers whole ("under 50.00": `u:3`, where
-- it was `p:0`, `p:1` and `p:2`; every key is a posting list the index walks beside the words',
-- and three long ones cost three times one) plus the bands at its ends (where it was the whole
-- bucket: "shoe" under 50.00 read every shoe priced 50.00 to 99.99, 5,500 rows for 214).
-- The rewrite below holds product_search's lock while it runs (about 35 s for 1,000,000
-- products on the benchmark's machine): searches and product writes wait for it.
CREATE FUNCTION product_price_band(amount integer) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN width_bucket(amount, '{100,200,300,400,500,600,700,800,900,1000,1150,1300,1450,1600,1750,1900,2050,2200,2350,2500,2750,3000,3250,3500,3750,4000,4250,4500,4750,5000,5500,6000,6500,7000,7500,8000,8500,9000,9500,10000,11500,13000,14500,16000,17500,19000,20500,22000,23500,25000,27500,30000,32500,35000,37500,40000,42500,45000,47500,50000,55000,60000,65000,70000,75000,80000,85000,90000,95000,100000,150000,200000,500000,1000000}'::integer[]);
--> statement-breakpoint
CREATE FUNCTION product_price_keys(amount integer) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN ARRAY['f:' || product_price_band(amount),
               CASE WHEN product_price_bucket(amount) < 1 THEN 'u:1' ELSE 'o:1' END,
               CASE WHEN product_price_bucket(amount) < 2 THEN 'u:2' ELSE 'o:2' END,
               CASE WHEN product_price_bucket(amount) < 3 THEN 'u:3' ELSE 'o:3' END,
               CASE WHEN product_price_bucket(amount) < 4 THEN 'u:4' ELSE 'o:4' END,
               CASE WHEN product_price_bucket(amount) < 5 THEN 'u:5' ELSE 'o:5' END,
               CASE WHEN product_price_bucket(amount) < 6 THEN 'u:6' ELSE 'o:6' END,
               CASE WHEN product_price_bucket(amount) < 7 THEN 'u:7' ELSE 'o:7' END];
--> statement-breakpoint
CREATE OR REPLACE FUNCTION product_search_rows(rows products[]) RETURNS SETOF product_search LANGUAGE sql STABLE
  SET search_path FROM CURRENT AS $$
  SELECT p.id, t.title, t.title || setweight(to_tsvector('catalog', left(p.description, 4000)), 'D'),
         c.keys[1:1] || product_price_keys(p.price_amount) || c.keys[2:]
           || CASE WHEN p.brand IS NULL THEN '{}'::text[] ELSE ARRAY['b:' || p.brand] END
           || ARRAY['p:' || product_price_bucket(p.price_amount), 's:' || (p.stock > 0)::integer],
         p.price_amount
    FROM unnest(rows) p
    JOIN category_search_paths c ON c.category_id = p.category_id
    CROSS JOIN LATERAL (
      SELECT setweight(to_tsvector('catalog', p.name), 'A')
             || setweight(to_tsvector('catalog', coalesce(p.brand, '')), 'B')
             || setweight(to_tsvector('catalog', c.names), 'C') AS title
    ) t
   WHERE p.status = 'active'
$$;
--> statement-breakpoint
-- The rows there are, rewritten with their price keys: copied aside, the table emptied and filled
-- again in id order, then indexed once (an UPDATE would double the table and insert every row's
-- words into the GIN index one by one).
DROP INDEX product_search_gin;
--> statement-breakpoint
CREATE TEMP TABLE product_search_rekeyed ON COMMIT DROP AS
  SELECT id, title_doc, doc, filter_keys[1:1] || product_price_keys(price_amount) || filter_keys[2:] AS filter_keys,
         price_amount
    FROM product_search;
--> statement-breakpoint
TRUNCATE product_search;
--> statement-breakpoint
INSERT INTO product_search SELECT * FROM product_search_rekeyed ORDER BY id;
--> statement-breakpoint
CREATE INDEX product_search_gin ON product_search USING gin (doc, title_doc, filter_keys)
  WITH (gin_pending_list_limit = 1024);
--> statement-breakpoint
ANALYZE product_search;
