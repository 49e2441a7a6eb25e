import { beforeAll, describe, expect, it } from 'vitest';
import { buildTree, type CategoryTree } from '../src/catalogue/category-tree.ts';
import { pageQuery, type ProductFilters } from '../src/catalogue/page-query.ts';
import { SORT_SPECS, SORTS, type Sort } from '../src/catalogue/sorts.ts';
import type { Database } from '../src/db/database.ts';
import { seedCatalogue } from '../src/seed/load.ts';
import { testDatabase } from './support/database.ts';

/**
 * The page query's plans, read from PostgreSQL on a 30,000-product demo catalogue: every sort and
 * filter shape must be an index range scan that stops after a page, never a scan of the table or
 * a sort of more than a few pages of rows, as the generic plans the API's page connections keep
 * (plan_cache_mode=force_generic_plan, checked below). (This is what keeps a deep page as cheap as
 * the first; `npm run bench` measures it.)
 */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Plan Rows': number;
  Filter?: string;
  Plans?: PlanNode[];
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

describe('page query plans', () => {
  let database: Database;
  let tree: CategoryTree;
  let brand: string;

  beforeAll(async () => {
    database = await testDatabase();
    await seedCatalogue(database.pool, { products: 30_000 });
    const { rows } = await database.pool.query<{ id: number; slug: string; name: string; parentId: number | null }>(
      'SELECT id, slug, name, parent_id AS "parentId" FROM categories ORDER BY position, name, id',
    );
    tree = buildTree(rows);
    const popular = await database.pool.query<{ brand: string }>(
      'SELECT brand FROM products WHERE brand IS NOT NULL GROUP BY brand ORDER BY count(*) DESC LIMIT 1',
    );
    brand = popular.rows[0]!.brand;
  });

  it('runs on connections that keep generic plans', async () => {
    const { rows } = await database.pagePool.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode');
    expect(rows[0]!.plan_cache_mode).toBe('force_generic_plan');
  });

  it('prepares only the statements whose plan does not depend on their values', () => {
    const parent = tree.ordered.find((n) => n.subtree.length > 2)!;
    expect(pageQuery({ sort: 'newest', rows: 25, filters: { category: parent } })).toMatchObject({
      planStable: true,
      name: expect.stringMatching(/^products_page_\d+$/),
    });
    for (const filters of [{ brands: ['a'] }, { minPrice: 100 }, { maxPrice: 100 }, { updatedAfter: new Date(0) }]) {
      const query = pageQuery({ sort: 'newest', rows: 25, filters });
      expect(query.planStable, JSON.stringify(filters)).toBe(false);
      expect(query.name).toBeUndefined();
    }
  });

  async function plan(sort: Sort, filters: ProductFilters, position?: 'after' | 'before') {
    const key =
      SORT_SPECS[sort].cast === 'text' ? 'M' : SORT_SPECS[sort].cast === 'integer' ? 5000 : Date.parse('2026-01-01');
    const query = pageQuery({
      sort,
      rows: 25,
      filters,
      position: position && { direction: position, key: [key, 1000] },
    });
    // As the API runs it: plan-stable shapes on the page pool, whose statements keep their
    // generic plan; the others on the main pool, planned for their values.
    const client = await (query.planStable ? database.pagePool : database.pool).connect();
    try {
      await client.query(`PREPARE page_plan AS ${query.text}`);
      const values = (query.values ?? []).map((v) =>
        Array.isArray(v) ? `'{${v.join(',')}}'` : `'${String(v).replaceAll("'", "''")}'`,
      );
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (FORMAT JSON) EXECUTE page_plan${values.length ? `(${values.join(', ')})` : ''}`,
      );
      return { root: rows[0]!['QUERY PLAN'][0].Plan, generic: query.planStable };
    } finally {
      await client.query('DEALLOCATE ALL');
      client.release();
    }
  }

  const shapes = (): [string, ProductFilters][] => {
    const parent = tree.ordered.find((n) => n.depth === 1 && n.subtree.length > 2)!;
    const leaf = tree.ordered.find((n) => n.subtree.length === 1)!;
    return [
      ['no filter', {}],
      ['a leaf category', { category: leaf }],
      ['a category with descendants', { category: parent }],
      ['a brand, a price range and in stock', { brands: [brand], minPrice: 1000, maxPrice: 50_000, inStock: true }],
      ['a category and a price range', { category: parent, minPrice: 1000, maxPrice: 50_000 }],
    ];
  };

  it('is an index range scan for every sort, filter shape and direction', async () => {
    let checked = 0;
    for (const sort of SORTS) {
      for (const [label, filters] of shapes()) {
        for (const position of [undefined, 'after', 'before'] as const) {
          {
            const { root, generic } = await plan(sort, filters, position);
            const all = nodes(root);
            const where = `${sort}, ${label}, ${position ?? 'first page'}`;
            expect(
              all.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']),
              where,
            ).toEqual([]);
            // Sorts: of a few rows, and in a generic plan only the merge of per-category pages (a
            // generic plan cannot know how many rows anything else would bring).
            for (const sortNode of all.filter((n) => n['Node Type'] === 'Sort')) {
              expect(sortNode['Plan Rows'], where).toBeLessThanOrEqual(25 * 64);
              if (generic) expect(['Append', 'Subquery Scan'], where).toContain(sortNode.Plans?.[0]?.['Node Type']);
            }
            // A category is found through the index, never by filtering rows of other categories.
            expect(
              all.filter((n) => n.Filter?.includes('category_id')).map((n) => n.Filter),
              where,
            ).toEqual([]);
            expect(root['Node Type'], where).toBe('Limit');
            expect(
              all.some((n) => n['Index Name']?.startsWith('products_active_')),
              where,
            ).toBe(true);
            checked += 1;
          }
        }
      }
    }
    expect(checked).toBe(SORTS.length * 5 * 3);
  });
});
