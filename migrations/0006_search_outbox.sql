-- Keeping an external search index (Meilisearch) in step with the catalogue: a transactional
-- outbox. Every change that search reads records the product in search_outbox in the same
-- transaction as the change, whatever wrote it (the API, an import, bulk SQL): the indexer
-- (api/src/search/meili/indexer.ts) drains it and deletes rows only once the index has them.
-- With no index kept (no row in search_sync: PostgreSQL search only), the triggers record nothing.
CREATE TABLE search_sync (
  index_uid text PRIMARY KEY,
  -- A reindex in progress: the index being built, which the indexer writes to as well.
  building_uid text,
  -- The live index has been built from the database once (until then, search asks PostgreSQL).
  ready boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
-- product_id has no foreign key: a deleted product's row tells the indexer to delete it.
CREATE TABLE search_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_id bigint NOT NULL,
  enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
--> statement-breakpoint
-- Statement-level for inserts and deletes (one INSERT for a whole COPY or import batch).
CREATE FUNCTION search_outbox_statement() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM search_sync) THEN
    INSERT INTO search_outbox (product_id) SELECT id FROM changed_rows;
    PERFORM pg_notify('search_outbox', '');
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER search_outbox_insert AFTER INSERT ON products
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION search_outbox_statement();
--> statement-breakpoint
CREATE TRIGGER search_outbox_delete AFTER DELETE ON products
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION search_outbox_statement();
--> statement-breakpoint
-- Updates: row-level, only when a field the index holds changes. Hits are read from products
-- when answered, so a stock change that keeps a product in (or out of) stock records nothing.
CREATE FUNCTION search_outbox_row() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM search_sync) THEN
    INSERT INTO search_outbox (product_id) VALUES (NEW.id);
    PERFORM pg_notify('search_outbox', '');
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER search_outbox_update AFTER UPDATE ON products FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.name IS DISTINCT FROM NEW.name
     OR OLD.sku IS DISTINCT FROM NEW.sku OR OLD.brand IS DISTINCT FROM NEW.brand
     OR OLD.description IS DISTINCT FROM NEW.description OR OLD.category_id IS DISTINCT FROM NEW.category_id
     OR OLD.price_amount IS DISTINCT FROM NEW.price_amount OR OLD.created_at IS DISTINCT FROM NEW.created_at
     OR (OLD.stock > 0) IS DISTINCT FROM (NEW.stock > 0))
  EXECUTE FUNCTION search_outbox_row();
--> statement-breakpoint
-- A category renamed or moved: every product of its subtree (documents hold the category path).
CREATE FUNCTION search_outbox_category() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM search_sync) THEN
    INSERT INTO search_outbox (product_id)
      SELECT p.id FROM products p
       WHERE p.category_id IN (
         WITH RECURSIVE subtree AS (
           SELECT NEW.id AS id
           UNION ALL SELECT c.id FROM categories c JOIN subtree s ON c.parent_id = s.id
         ) SELECT id FROM subtree);
    PERFORM pg_notify('search_outbox', '');
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER search_outbox_category AFTER UPDATE OF name, parent_id ON categories FOR EACH ROW
  WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.parent_id IS DISTINCT FROM NEW.parent_id)
  EXECUTE FUNCTION search_outbox_category();
