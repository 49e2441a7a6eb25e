-- PostgreSQL search at a million products: product_search becomes partitioned by a hash of the
-- product id, so that one partition, product_search_sample, holds a fixed one in 16 of the
-- products (those whose id hashes to 0 modulo 16), with its own GIN index. A word found in tens
-- of thousands of products is then counted, faceted and ranked in that sample alone (1/16th of
-- the posting lists to read, 1/16th of the rows, which stay in memory), its counts scaled and
-- flagged as estimates; rarer words are still read in full, and counted exactly. The other rows
-- live in four partitions of 1/2, 1/4, 1/8 and 1/16th (hash partitions may mix moduli that divide
-- each other). Rows are routed by PostgreSQL itself: the triggers of 0005 write product_search as
-- before (and now also the words of search_vocabulary, below); nothing changes for other writers.
ALTER TABLE product_search RENAME TO product_search_unpartitioned;
--> statement-breakpoint
CREATE TABLE product_search (
  id bigint NOT NULL,
  title_doc tsvector NOT NULL,
  doc tsvector NOT NULL,
  filter_keys text[] NOT NULL,
  price_amount integer NOT NULL
) PARTITION BY HASH (id);
--> statement-breakpoint
CREATE TABLE product_search_sample PARTITION OF product_search FOR VALUES WITH (MODULUS 16, REMAINDER 0);
--> statement-breakpoint
CREATE TABLE product_search_rest_8 PARTITION OF product_search FOR VALUES WITH (MODULUS 16, REMAINDER 8);
--> statement-breakpoint
CREATE TABLE product_search_rest_4 PARTITION OF product_search FOR VALUES WITH (MODULUS 8, REMAINDER 4);
--> statement-breakpoint
CREATE TABLE product_search_rest_2 PARTITION OF product_search FOR VALUES WITH (MODULUS 4, REMAINDER 2);
--> statement-breakpoint
CREATE TABLE product_search_rest_1 PARTITION OF product_search FOR VALUES WITH (MODULUS 2, REMAINDER 1);
--> statement-breakpoint
INSERT INTO product_search SELECT * FROM product_search_unpartitioned ORDER BY id;
--> statement-breakpoint
-- What depends on the old table's row type or on its name as a regclass: the row builder of 0005
-- (the same body, returning the new table's rows) and the words for typo correction.
DROP MATERIALIZED VIEW search_words;
--> statement-breakpoint
DROP FUNCTION product_search_rows(products[]);
--> statement-breakpoint
DROP TABLE product_search_unpartitioned;
--> statement-breakpoint
ALTER TABLE product_search ADD CONSTRAINT product_search_pkey PRIMARY KEY (id);
--> statement-breakpoint
ALTER TABLE product_search ADD CONSTRAINT product_search_id_fkey
  FOREIGN KEY (id) REFERENCES products (id) ON DELETE CASCADE;
--> statement-breakpoint
CREATE FUNCTION product_search_rows(rows products[]) RETURNS SETOF product_search LANGUAGE sql STABLE
  SET search_path FROM CURRENT AS $$
  SELECT p.id, t.title, t.title || setweight(to_tsvector('catalog', left(p.description, 4000)), 'D'),
         c.keys
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
CREATE INDEX product_search_gin ON product_search USING gin (doc, title_doc, filter_keys)
  WITH (gin_pending_list_limit = 1024);
--> statement-breakpoint
CREATE MATERIALIZED VIEW search_words AS
  SELECT word COLLATE "C" AS word, ndoc FROM ts_stat(format('SELECT title_doc FROM %s', 'product_search'::regclass))
   WHERE length(word) BETWEEN 2 AND 40 AND word !~ '[0-9]';
--> statement-breakpoint
CREATE UNIQUE INDEX search_words_word_key ON search_words (word);
--> statement-breakpoint
CREATE INDEX search_words_trgm_idx ON search_words USING gist (word gist_trgm_ops);
--> statement-breakpoint
-- Every word of the documents (title and description), kept by the triggers that write search
-- rows: a prefix or a stem in a query (`kettl:*`) is searched as the words it completes to
-- (`kettle | kettles | kettlebell`), which the GIN index reads from their posting lists, where a
-- prefix match collects every match of every completion first (3 to 7 times the time). Written on
-- every path that writes product_search, so no completion is ever missing; a word is never
-- removed (one no product has any longer only costs an empty lookup).
CREATE TABLE search_vocabulary (word text COLLATE "C" PRIMARY KEY);
--> statement-breakpoint
INSERT INTO search_vocabulary SELECT word FROM ts_stat('SELECT doc FROM product_search');
--> statement-breakpoint
-- The triggers of 0005, the same, and then the words of the documents they wrote that the
-- vocabulary lacks, in word order (concurrent writers of the same new words cannot deadlock).
CREATE OR REPLACE FUNCTION product_search_insert() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  WITH added AS (
    INSERT INTO product_search SELECT * FROM product_search_rows(ARRAY(SELECT n::products FROM new_rows n)) RETURNING doc
  )
  INSERT INTO search_vocabulary (word)
    SELECT w.word FROM (SELECT DISTINCT unnest(tsvector_to_array(a.doc)) AS word FROM added a) w
     WHERE NOT EXISTS (SELECT 1 FROM search_vocabulary v WHERE v.word = w.word)
     ORDER BY w.word
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION product_search_update() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  written product_search;
  words text[];
BEGIN
  DELETE FROM product_search WHERE id = NEW.id;
  IF OLD.status = 'active' AND OLD.name IS NOT DISTINCT FROM NEW.name AND OLD.brand IS NOT DISTINCT FROM NEW.brand
     AND OLD.description IS NOT DISTINCT FROM NEW.description AND OLD.category_id IS NOT DISTINCT FROM NEW.category_id THEN
    -- A price or stock change: the same words, in the vocabulary since the product was active.
    INSERT INTO product_search SELECT * FROM product_search_rows(ARRAY[NEW]);
    RETURN NULL;
  END IF;
  SELECT * INTO written FROM product_search_rows(ARRAY[NEW]);
  IF NOT FOUND THEN RETURN NULL; END IF;
  INSERT INTO product_search VALUES (written.*);
  -- A new name or brand of an active product (the same description and category): the title's
  -- words only. Looked up first, all at once: a word is rarely new.
  words := tsvector_to_array(CASE WHEN OLD.status = 'active' AND OLD.description IS NOT DISTINCT FROM NEW.description
                                        AND OLD.category_id IS NOT DISTINCT FROM NEW.category_id
                                   THEN written.title_doc ELSE written.doc END);
  IF (SELECT count(*) FROM search_vocabulary WHERE word = ANY (words)) < cardinality(words) THEN
    INSERT INTO search_vocabulary (word) SELECT w FROM unnest(words) AS w ORDER BY w ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION product_search_category() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS product_search_rebuild (id bigint) ON COMMIT DROP;
  INSERT INTO product_search_rebuild
    SELECT id FROM product_search WHERE filter_keys @> ARRAY['c:' || NEW.id]
    UNION SELECT p.id FROM products p WHERE p.category_id = NEW.id AND p.status = 'active';
  DELETE FROM product_search s USING product_search_rebuild r WHERE s.id = r.id;
  WITH added AS (
    INSERT INTO product_search
      SELECT * FROM product_search_rows(ARRAY(SELECT p FROM products p JOIN product_search_rebuild r ON r.id = p.id))
      RETURNING doc
  )
  INSERT INTO search_vocabulary (word)
    SELECT w.word FROM (SELECT DISTINCT unnest(tsvector_to_array(a.doc)) AS word FROM added a) w
     WHERE NOT EXISTS (SELECT 1 FROM search_vocabulary v WHERE v.word = w.word)
     ORDER BY w.word
  ON CONFLICT DO NOTHING;
  DELETE FROM product_search_rebuild;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
ANALYZE product_search;
