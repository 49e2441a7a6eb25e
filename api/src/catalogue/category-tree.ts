import { asc, eq, sql } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Db } from '../db/database.ts';
import { categories, products } from '../db/schema.ts';

export interface CategoryNode {
  id: number;
  slug: string;
  name: string;
  parentId: number | null;
  depth: number;
  /** Ids of this category and all its descendants. */
  subtree: number[];
  /** From the root down to this category, itself included. */
  path: CategoryNode[];
}

export interface CategoryTree {
  /** Depth-first, siblings by position then name. */
  ordered: CategoryNode[];
  byId: Map<number, CategoryNode>;
  bySlug: Map<string, CategoryNode>;
}

export function buildTree(rows: { id: number; slug: string; name: string; parentId: number | null }[]): CategoryTree {
  const children = new Map<number | null, typeof rows>();
  for (const row of rows) {
    const list = children.get(row.parentId) ?? [];
    list.push(row);
    children.set(row.parentId, list);
  }
  const ordered: CategoryNode[] = [];
  const visit = (parentId: number | null, path: CategoryNode[]): number[] => {
    const ids: number[] = [];
    for (const row of children.get(parentId) ?? []) {
      const node: CategoryNode = { ...row, depth: path.length, subtree: [row.id], path: [] };
      node.path = [...path, node];
      ordered.push(node);
      node.subtree.push(...visit(row.id, node.path));
      ids.push(...node.subtree);
    }
    return ids;
  };
  visit(null, []);
  return {
    ordered,
    byId: new Map(ordered.map((n) => [n.id, n])),
    bySlug: new Map(ordered.map((n) => [n.slug, n])),
  };
}

/** How long a process keeps the tree and the counts before reading them again. */
const TREE_TTL_MS = 5_000;

/**
 * The category tree is small (tens to a few thousand rows) and read by nearly every request
 * (category filters, breadcrumbs), so each process keeps it for a few seconds. Concurrent
 * requests share one load; a failed load is not kept.
 */
export class CategoryRepository {
  readonly #db: Db;
  readonly #tree = new LRUCache<'tree', CategoryTree>({
    max: 1,
    ttl: TREE_TTL_MS,
    fetchMethod: () => this.#loadTree(),
  });
  readonly #counts = new LRUCache<'counts', Map<number, number>>({
    max: 1,
    ttl: TREE_TTL_MS,
    fetchMethod: () => this.#loadCounts(),
  });

  constructor(db: Db) {
    this.#db = db;
  }

  async tree(): Promise<CategoryTree> {
    return (await this.#tree.fetch('tree'))!;
  }

  /** Active products per category, each category counting its descendants' products too. */
  async productCounts(): Promise<Map<number, number>> {
    return (await this.#counts.fetch('counts'))!;
  }

  #loadTree(): Promise<CategoryTree> {
    return this.#db
      .select({ id: categories.id, slug: categories.slug, name: categories.name, parentId: categories.parentId })
      .from(categories)
      .orderBy(asc(categories.position), asc(categories.name), asc(categories.id))
      .then(buildTree);
  }

  async #loadCounts(): Promise<Map<number, number>> {
    const [tree, rows] = await Promise.all([
      this.tree(),
      this.#db
        .select({ categoryId: products.categoryId, count: sql<number>`count(*)::int` })
        .from(products)
        .where(eq(products.status, 'active'))
        .groupBy(products.categoryId),
    ]);
    const direct = new Map(rows.map((r) => [r.categoryId, r.count]));
    return new Map(
      tree.ordered.map((node) => [node.id, node.subtree.reduce((sum, id) => sum + (direct.get(id) ?? 0), 0)]),
    );
  }
}
