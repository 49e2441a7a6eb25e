import { describe, expect, it } from 'vitest';
import { buildTree } from '../src/catalogue/category-tree.ts';
import {
  noFacets,
  type IndexedSearchEngine,
  type SearchEngine,
  type SearchRequest,
  type SearchResult,
} from '../src/search/engine.ts';
import { SearchService } from '../src/search/service.ts';

/** The search service's choice of engine, with engines that answer what they are told to. */

const TREE = buildTree([
  { id: 1, slug: 'kitchen', name: 'Kitchen', parentId: null },
  { id: 2, slug: 'kettles', name: 'Kettles', parentId: 1 },
  { id: 3, slug: 'garden', name: 'Garden', parentId: null },
]);

const result = (overrides: Partial<SearchResult> = {}): SearchResult => ({
  hits: [],
  total: 0,
  totalExact: true,
  facets: noFacets(),
  words: [],
  corrected: false,
  relaxed: false,
  lagMs: 0,
  ...overrides,
});

class FakeEngine implements SearchEngine {
  readonly requests: SearchRequest[] = [];
  constructor(
    readonly name: 'postgres' | 'meilisearch',
    readonly answer: () => Promise<SearchResult> = async () => result(),
  ) {}
  search(request: SearchRequest): Promise<SearchResult> {
    this.requests.push(request);
    return this.answer();
  }
}

class FakeIndex extends FakeEngine implements IndexedSearchEngine {
  ready = true;
  lag = 0;
  constructor(answer?: () => Promise<SearchResult>) {
    super('meilisearch', answer);
  }
  async isReady() {
    return this.ready;
  }
  async lagMs() {
    return this.lag;
  }
}

function setUp({ index, maxLagMs = 60_000 }: { index?: FakeIndex; maxLagMs?: number } = {}) {
  const clock = { now: 0 };
  const warnings: string[] = [];
  const database = new FakeEngine('postgres');
  const service = new SearchService({
    database,
    index,
    maxLagMs,
    categories: async () => TREE,
    now: () => clock.now,
  });
  const log = { warn: (_: object, message: string) => void warnings.push(message) };
  const search = (asked: { category?: string } = {}) =>
    service.search({ q: 'kettle', page: 1, limit: 24, ...asked }, log);
  return { service, database, clock, warnings, search };
}

describe('the search service', () => {
  it('answers by the database with no fallback when no index is configured', async () => {
    const { search, database } = setUp();
    const found = await search();
    expect(found).toMatchObject({ engine: 'postgres', fallback: null });
    expect(database.requests).toHaveLength(1);
  });

  it('answers by the index when it is ready and current', async () => {
    const index = new FakeIndex(async () => result({ lagMs: 120 }));
    const { search, database } = setUp({ index });
    expect(await search()).toMatchObject({ engine: 'meilisearch', fallback: null, lagMs: 120 });
    expect(database.requests).toHaveLength(0);
  });

  it('answers by the database while the index is not built (index_not_ready)', async () => {
    const index = new FakeIndex();
    index.ready = false;
    const { search } = setUp({ index });
    expect(await search()).toMatchObject({ engine: 'postgres', fallback: 'index_not_ready' });
    expect(index.requests).toHaveLength(0);
  });

  it('answers by the database while the index is further behind than the limit (index_behind)', async () => {
    const index = new FakeIndex();
    const { search } = setUp({ index, maxLagMs: 1_000 });
    index.lag = 1_000;
    expect(await search()).toMatchObject({ engine: 'meilisearch', fallback: null });
    index.lag = 1_001;
    expect(await search()).toMatchObject({ engine: 'postgres', fallback: 'index_behind' });
  });

  it('answers by the database when the index fails, and for the next 5 seconds without asking it', async () => {
    let failing = true;
    const index = new FakeIndex(async () => {
      if (failing) throw new Error('connection refused');
      return result();
    });
    const { search, clock, warnings } = setUp({ index });
    expect(await search()).toMatchObject({ engine: 'postgres', fallback: 'meilisearch_unavailable' });
    expect(warnings).toEqual(['Meilisearch search failed: PostgreSQL answers']);
    failing = false;
    clock.now = 4_999;
    expect(await search()).toMatchObject({ engine: 'postgres', fallback: 'meilisearch_unavailable' });
    expect(index.requests).toHaveLength(1);
    clock.now = 5_000;
    expect(await search()).toMatchObject({ engine: 'meilisearch', fallback: null });
  });

  it('refuses an unknown category with a 404 and searches a known one by its id', async () => {
    const { search, database } = setUp();
    await expect(search({ category: 'nowhere' })).rejects.toMatchObject({ status: 404 });
    expect(database.requests).toHaveLength(0);
    await search({ category: 'kitchen' });
    expect(database.requests[0]?.category).toBe(1);
  });

  it('answers the categories one level below the chosen one, the brands by count, the prices by bucket', async () => {
    const facets = noFacets();
    facets.categories = new Map([
      [1, 7],
      [2, 5],
      [3, 2],
    ]);
    facets.brands = new Map([
      ['Zeta', 3],
      ['Alpha', 3],
      ['Mid', 4],
    ]);
    facets.prices = new Map([
      [0, 2],
      [7, 1],
    ]);
    facets.availability = { inStock: 8, outOfStock: 1 };
    const index = new FakeIndex(async () => result({ facets }));
    const { search } = setUp({ index });
    expect((await search()).facets).toEqual({
      category: [
        { slug: 'kitchen', name: 'Kitchen', count: 7 },
        { slug: 'garden', name: 'Garden', count: 2 },
      ],
      brand: [
        { name: 'Mid', count: 4 },
        { name: 'Alpha', count: 3 },
        { name: 'Zeta', count: 3 },
      ],
      price: [
        { min: 0, max: 1_000, count: 2 },
        { min: 100_000, max: null, count: 1 },
      ],
      availability: { in_stock: 8, out_of_stock: 1 },
    });
    expect((await search({ category: 'kitchen' })).facets.category).toEqual([
      { slug: 'kettles', name: 'Kettles', count: 5 },
    ]);
  });
});
