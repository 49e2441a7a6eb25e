import { and, eq, sql } from 'drizzle-orm';
import { products, stockMovements } from '../db/schema.ts';
import { HttpProblem, invalidParam, notFound } from '../http/problem.ts';
import type { Executor } from '../http/idempotency.ts';
import type { CategoryRepository } from './category-tree.ts';
import type { ProductRepository } from './products-repository.ts';
import type { Product } from './schemas.ts';
import type { ProductCreate, ProductPatch } from './write-schemas.ts';

/** Which unique constraint a clash broke, and the field to name in the 409. */
const UNIQUE_FIELDS: Record<string, 'sku' | 'slug'> = { products_sku_key: 'sku', products_slug_key: 'slug' };

function asClash(error: unknown): HttpProblem | undefined {
  const cause =
    (error as { cause?: { code?: string; constraint?: string } }).cause ??
    (error as { code?: string; constraint?: string });
  const field = cause.code === '23505' && cause.constraint ? UNIQUE_FIELDS[cause.constraint] : undefined;
  if (!field) return undefined;
  return new HttpProblem(409, 'conflict', 'Conflict', `Another product already has this ${field}.`, [
    { in: 'body', name: field, detail: 'is already taken' },
  ]);
}

const stale = (version: number) =>
  new HttpProblem(
    412,
    'precondition-failed',
    'Precondition failed',
    `The product changed since it was read: it is now at version ${version}.`,
    undefined,
    { current_version: version },
  );

/**
 * Creating, changing and archiving products. Each answer is the product as GET shows it, read in
 * the same transaction. Conditional changes compare the product's version in the UPDATE itself,
 * so two writers holding the same version cannot both win.
 */
export class ProductWriter {
  readonly #categories: CategoryRepository;
  readonly #products: ProductRepository;

  constructor(categories: CategoryRepository, productRepository: ProductRepository) {
    this.#categories = categories;
    this.#products = productRepository;
  }

  /** The id of the product an id or slug names, whatever its status. */
  async resolve(idOrSlug: string): Promise<number | undefined> {
    if (/^\d+$/.test(idOrSlug)) return Number.isSafeInteger(Number(idOrSlug)) ? Number(idOrSlug) : undefined;
    const product = await this.#products.find(idOrSlug, await this.#categories.tree());
    return product?.id;
  }

  async #categoryId(slug: string): Promise<number> {
    const node = (await this.#categories.tree()).bySlug.get(slug);
    if (!node) throw invalidParam({ in: 'body', name: 'category', detail: `no category with slug '${slug}'` });
    return node.id;
  }

  async #answer(tx: Executor, id: number): Promise<Product> {
    const product = await this.#products.find(id, await this.#categories.tree(), { tx });
    if (!product) throw notFound(`No product ${id}`);
    return product;
  }

  async create(tx: Executor, input: ProductCreate, apiKeyId: number): Promise<Product> {
    const categoryId = await this.#categoryId(input.category);
    let id: number;
    try {
      const [row] = await tx
        .insert(products)
        .values({
          sku: input.sku,
          slug: input.slug,
          name: input.name,
          description: input.description ?? '',
          brand: input.brand ?? null,
          categoryId,
          priceAmount: input.price.amount,
          currency: input.price.currency,
          images: input.images ?? [],
          attributes: input.attributes ?? {},
          status: input.status ?? 'draft',
          stock: input.stock ?? 0,
        })
        .returning({ id: products.id });
      id = row!.id;
    } catch (error) {
      throw asClash(error) ?? error;
    }
    if (input.stock) {
      await tx
        .insert(stockMovements)
        .values({ productId: id, delta: input.stock, reason: 'opening stock', stockAfter: input.stock, apiKeyId });
    }
    return this.#answer(tx, id);
  }

  async update(tx: Executor, id: number, patch: ProductPatch, expectedVersion?: number): Promise<Product> {
    const categoryId = patch.category === undefined ? undefined : await this.#categoryId(patch.category);
    let changed;
    try {
      changed = await tx
        .update(products)
        .set({
          sku: patch.sku,
          slug: patch.slug,
          name: patch.name,
          description: patch.description,
          brand: patch.brand,
          categoryId,
          priceAmount: patch.price?.amount,
          currency: patch.price?.currency,
          images: patch.images,
          attributes: patch.attributes,
          status: patch.status,
        })
        .where(
          and(eq(products.id, id), expectedVersion === undefined ? undefined : eq(products.version, expectedVersion)),
        )
        .returning({ id: products.id });
    } catch (error) {
      throw asClash(error) ?? error;
    }
    if (changed.length === 0) await this.#explainMiss(tx, id);
    return this.#answer(tx, id);
  }

  /** DELETE archives: the product leaves the storefront, its history and ledger stay. */
  async archive(tx: Executor, id: number, expectedVersion?: number): Promise<Product> {
    const changed = await tx
      .update(products)
      .set({ status: 'archived' })
      .where(
        and(eq(products.id, id), expectedVersion === undefined ? undefined : eq(products.version, expectedVersion)),
      )
      .returning({ id: products.id });
    if (changed.length === 0) await this.#explainMiss(tx, id);
    return this.#answer(tx, id);
  }

  /** Nothing matched: the product is missing (404) or at another version (412). */
  async #explainMiss(tx: Executor, id: number): Promise<never> {
    const { rows } = await tx.execute<{ version: number }>(sql`SELECT version FROM products WHERE id = ${id}`);
    if (!rows[0]) throw notFound(`No product ${id}`);
    throw stale(rows[0].version);
  }
}
