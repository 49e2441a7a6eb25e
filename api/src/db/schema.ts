import { sql } from 'drizzle-orm';
import {
  bigint,
  char,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/**
 * The most stock a product holds. The request schemas bound stock by it, and CHECK constraints hold
 * every writer to it, as they hold the stock above zero. Twice the bound still fits an integer.
 */
export const MAX_STOCK = 1_000_000_000;

/** Millisecond precision: a timestamp survives a round trip through a JS Date (and a cursor) exactly. */
const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
};

export const categories = pgTable(
  'categories',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    parentId: integer('parent_id'),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    /** Order among siblings. */
    position: integer('position').notNull().default(0),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('categories_slug_key').on(t.slug),
    index('categories_parent_idx').on(t.parentId),
    foreignKey({ columns: [t.parentId], foreignColumns: [t.id], name: 'categories_parent_fk' }).onDelete('restrict'),
    check('categories_not_own_parent', sql`${t.parentId} <> ${t.id}`),
  ],
);

export const productStatus = pgEnum('product_status', ['draft', 'active', 'archived']);

export interface ProductImage {
  url: string;
  alt: string;
}

const active = sql`status = 'active'`;

export const products = pgTable(
  'products',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    sku: text('sku').notNull(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    brand: text('brand'),
    categoryId: integer('category_id')
      .notNull()
      .references(() => categories.id, { onDelete: 'restrict' }),
    /** Integer minor units of `currency` (cents for EUR): money is never a float. */
    priceAmount: integer('price_amount').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    images: jsonb('images').$type<ProductImage[]>().notNull().default([]),
    attributes: jsonb('attributes').$type<Record<string, string | number | boolean>>().notNull().default({}),
    status: productStatus('status').notNull().default('draft'),
    stock: integer('stock').notNull().default(0),
    /** Grows on every change (trigger in migrations/0001): the basis of ETags and If-Match. */
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('products_sku_key').on(t.sku),
    uniqueIndex('products_slug_key').on(t.slug),
    check('products_stock_not_negative', sql`${t.stock} >= 0`),
    check('products_stock_not_above_limit', sql`${t.stock} <= ${sql.raw(String(MAX_STOCK))}`),
    check('products_price_not_negative', sql`${t.priceAmount} >= 0`),
    check('products_currency_iso4217', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    // Keyset indexes: one per supported sort (scanned forward or backward), the id as tie-breaker,
    // over active products only, which is all the public listing reads.
    index('products_active_newest_idx').on(t.createdAt, t.id).where(active),
    index('products_active_price_idx').on(t.priceAmount, t.id).where(active),
    index('products_active_name_idx').on(t.name, t.id).where(active),
    index('products_active_updated_idx').on(t.updatedAt, t.id).where(active),
    // The same sorts inside one category (a leaf, or each category of a subtree).
    index('products_active_category_newest_idx').on(t.categoryId, t.createdAt, t.id).where(active),
    index('products_active_category_price_idx').on(t.categoryId, t.priceAmount, t.id).where(active),
    index('products_active_category_name_idx').on(t.categoryId, t.name, t.id).where(active),
    index('products_active_category_updated_idx').on(t.categoryId, t.updatedAt, t.id).where(active),
    index('products_active_brand_newest_idx').on(t.brand, t.createdAt, t.id).where(active),
  ],
);

export type ProductRow = typeof products.$inferSelect;
export type NewProductRow = typeof products.$inferInsert;
export type CategoryRow = typeof categories.$inferSelect;

// --- Access -------------------------------------------------------------------------------------

export const SCOPES = ['catalog:write', 'stock:write', 'keys:admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** API keys: only a hash of the secret is kept; the prefix finds the row, and is safe to show. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    /** SHA-256 of the secret, hex. The secret is 256 random bits: a slow hash would add nothing. */
    secretHash: text('secret_hash').notNull(),
    scopes: text('scopes').array().$type<Scope[]>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, precision: 3 }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    uniqueIndex('api_keys_prefix_key').on(t.prefix),
    check('api_keys_scopes_known', sql`${t.scopes} <@ ARRAY['catalog:write', 'stock:write', 'keys:admin']::text[]`),
    check('api_keys_scopes_not_empty', sql`cardinality(${t.scopes}) > 0`),
  ],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;

// --- Stock --------------------------------------------------------------------------------------

/**
 * The stock ledger: one row per change, written in the same transaction as the change, so for
 * every product the deltas sum to its stock (the seed writes each product's opening balance).
 */
export const stockMovements = pgTable(
  'stock_movements',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    productId: bigint('product_id', { mode: 'number' })
      .notNull()
      .references(() => products.id, { onDelete: 'restrict' }),
    delta: integer('delta').notNull(),
    reason: text('reason').notNull(),
    stockAfter: integer('stock_after').notNull(),
    /** The key that made the change; null for the seed and other system writes. */
    apiKeyId: integer('api_key_id').references(() => apiKeys.id, { onDelete: 'restrict' }),
    idempotencyKey: text('idempotency_key'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index('stock_movements_product_idx').on(t.productId, t.id),
    check('stock_movements_delta_not_zero', sql`${t.delta} <> 0`),
    check('stock_movements_stock_after_not_negative', sql`${t.stockAfter} >= 0`),
    check('stock_movements_stock_after_not_above_limit', sql`${t.stockAfter} <= ${sql.raw(String(MAX_STOCK))}`),
  ],
);

/**
 * Answers to POSTs sent with an Idempotency-Key, kept so that a retry gets the same answer and
 * changes nothing more. Written in the transaction of the change itself.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    apiKeyId: integer('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    /** SHA-256 of the method, path and body: the same key with another request is refused. */
    requestHash: text('request_hash').notNull(),
    statusCode: integer('status_code').notNull(),
    responseBody: jsonb('response_body').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);
