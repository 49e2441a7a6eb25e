-- PostgreSQL search (the embedded default, and the fallback when Meilisearch is away).
-- product_search holds one narrow row per active product, kept by triggers on every write path
-- (the API, imports, COPY, hand-written SQL), so search reads committed truth: no lag. It is
-- never written through products, so versions, ETags and incremental sync do not move with it.
CREATE EXTENSION IF NOT EXISTS unaccent;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
--> statement-breakpoint
-- No stemming in the index: names mix English and French, brands must stay whole, and prefixes
-- (search as you type) break on stems. Accents are folded: 'cafetiere' finds 'Cafetière'.
CREATE TEXT SEARCH CONFIGURATION catalog (COPY = simple);
--> statement-breakpoint
ALTER TEXT SEARCH CONFIGURATION catalog
  ALTER MAPPING FOR word, hword, hword_part, numword, numhword, hword_numpart WITH unaccent, simple;
--> statement-breakpoint
-- Each category with its path to the root: the names it is found by, and the filter keys that
-- select it with every ancestor ('c:<id>').
CREATE VIEW category_search_paths AS
  WITH RECURSIVE path AS (
    SELECT id AS category_id, id, parent_id, name, 1 AS depth FROM categories
    UNION ALL
    SELECT path.category_id, c.id, c.parent_id, c.name, path.depth + 1
      FROM categories c JOIN path ON c.id = path.parent_id
  )
  SELECT category_id, string_agg(name, ' ' ORDER BY depth) AS names, array_agg('c:' || id ORDER BY depth) AS keys
    FROM path GROUP BY category_id;
--> statement-breakpoint
CREATE TABLE product_search (
  id bigint PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
  -- name (A), brand (B), category path (C): what a product is called
  title_doc tsvector NOT NULL,
  -- the title, and the description (D)
  doc tsvector NOT NULL,
  -- 'c:<category and each ancestor>', 'b:<brand>', 'p:<price bucket>', 's:<1 in stock, 0 not>'
  filter_keys text[] NOT NULL,
  price_amount integer NOT NULL
);
--> statement-breakpoint
-- Price buckets (minor units): <10, 10-25, 25-50, 50-100, 100-250, 250-500, 500-1000, >=1000.
CREATE FUNCTION product_price_bucket(amount integer) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN width_bucket(amount, '{1000,2500,5000,10000,25000,50000,100000}'::integer[]);
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
-- Inserts: once per statement, over all its rows (COPY, an import's batch, a seed).
CREATE FUNCTION product_search_insert() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO product_search SELECT * FROM product_search_rows(ARRAY(SELECT n::products FROM new_rows n));
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER product_search_insert AFTER INSERT ON products
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_search_insert();
--> statement-breakpoint
-- Updates: only when something search reads changes. A stock change that keeps the product in
-- (or out of) stock, the hot path, never calls it.
CREATE FUNCTION product_search_update() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  DELETE FROM product_search WHERE id = NEW.id;
  INSERT INTO product_search SELECT * FROM product_search_rows(ARRAY[NEW]);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER product_search_update AFTER UPDATE ON products FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.name IS DISTINCT FROM NEW.name
     OR OLD.brand IS DISTINCT FROM NEW.brand OR OLD.description IS DISTINCT FROM NEW.description
     OR OLD.category_id IS DISTINCT FROM NEW.category_id OR OLD.price_amount IS DISTINCT FROM NEW.price_amount
     OR (OLD.stock > 0) IS DISTINCT FROM (NEW.stock > 0))
  EXECUTE FUNCTION product_search_update();
--> statement-breakpoint
-- A category renamed or moved: its subtree's rows are rebuilt (found by its filter key).
CREATE FUNCTION product_search_category() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS product_search_rebuild (id bigint) ON COMMIT DROP;
  INSERT INTO product_search_rebuild
    SELECT id FROM product_search WHERE filter_keys @> ARRAY['c:' || NEW.id]
    UNION SELECT p.id FROM products p WHERE p.category_id = NEW.id AND p.status = 'active';
  DELETE FROM product_search s USING product_search_rebuild r WHERE s.id = r.id;
  INSERT INTO product_search
    SELECT * FROM product_search_rows(ARRAY(SELECT p FROM products p JOIN product_search_rebuild r ON r.id = p.id));
  DELETE FROM product_search_rebuild;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER product_search_category AFTER UPDATE OF name, parent_id ON categories FOR EACH ROW
  WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.parent_id IS DISTINCT FROM NEW.parent_id)
  EXECUTE FUNCTION product_search_category();
--> statement-breakpoint
INSERT INTO product_search SELECT * FROM product_search_rows(ARRAY(SELECT p FROM products p WHERE p.status = 'active'));
--> statement-breakpoint
-- One GIN over the documents and the filter keys: a filter is intersected inside the index.
-- A small pending list bounds what every search must scan after a burst of writes.
CREATE INDEX product_search_gin ON product_search USING gin (doc, title_doc, filter_keys)
  WITH (gin_pending_list_limit = 1024);
--> statement-breakpoint
-- Typos between two words: insertions, deletions, substitutions and swaps of two neighbouring
-- letters, each one typo (optimal string alignment), or more than `max` (then max + 1).
CREATE FUNCTION typo_distance(a text, b text, max integer) RETURNS integer
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT AS $$
DECLARE
  la integer := length(a);
  lb integer := length(b);
  d integer[];
  cost integer;
  width integer := lb + 1;
BEGIN
  IF abs(la - lb) > max THEN RETURN max + 1; END IF;
  d := array_fill(0, ARRAY[(la + 1) * width]);
  FOR i IN 0..la LOOP d[i * width + 1] := i; END LOOP;
  FOR j IN 0..lb LOOP d[j + 1] := j; END LOOP;
  FOR i IN 1..la LOOP
    FOR j IN 1..lb LOOP
      cost := CASE WHEN substr(a, i, 1) = substr(b, j, 1) THEN 0 ELSE 1 END;
      d[i * width + j + 1] := least(d[(i - 1) * width + j + 1] + 1, d[i * width + j] + 1,
                                    d[(i - 1) * width + j] + cost);
      IF i > 1 AND j > 1 AND substr(a, i, 1) = substr(b, j - 1, 1) AND substr(a, i - 1, 1) = substr(b, j, 1) THEN
        d[i * width + j + 1] := least(d[i * width + j + 1], d[(i - 2) * width + j - 1] + 1);
      END IF;
    END LOOP;
  END LOOP;
  RETURN least(d[la * width + lb + 1], max + 1);
END;
$$;
--> statement-breakpoint
-- The words of the catalogue, to correct a mistyped query word before searching (refreshed by the
-- API now and then, and after a seed): a btree for exact and prefix checks, trigrams for the
-- nearest words.
CREATE MATERIALIZED VIEW search_words AS
  -- (qualified through regclass: a materialized view is refreshed with a search_path of pg_catalog)
  SELECT word COLLATE "C" AS word, ndoc FROM ts_stat(format('SELECT title_doc FROM %s', 'product_search'::regclass))
   WHERE length(word) BETWEEN 2 AND 40 AND word !~ '[0-9]';
--> statement-breakpoint
CREATE UNIQUE INDEX search_words_word_key ON search_words (word);
--> statement-breakpoint
CREATE INDEX search_words_trgm_idx ON search_words USING gist (word gist_trgm_ops);
