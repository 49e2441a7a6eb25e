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
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

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
