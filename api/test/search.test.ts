import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Database } from '../src/db/database.ts';
import { MATCH_CAP, SAMPLE_RATE } from '../src/search/limits.ts';
import { BAND_BOUNDS, priceKeys, rowPriceKeys } from '../src/search/pg/price-keys.ts';
import { bucketOf } from '../src/search/prices.ts';
import { seedCatalogue } from '../src/seed/load.ts';
import { testApp, testDatabase } from './support/database.ts';
import { insertProducts, insertTree, productRow } from './support/fixtures.ts';

interface Planted {
  sku: string;
  name: string;
  brand: string;
  category: string;
  description: string;
}

/** Products with words of their own, planted in a generated catalogue, each found by its queries. */
const PLANTED: (Planted & { queries: string[] })[] = [
  {
    sku: 'PL-1',
    name: 'Cafetière à piston Zyphlor',
    brand: 'Quillbay',
    category: 'coffee-machines',
    description: 'Verre borosilicate, filtre inox.',
    queries: ['cafetière zyphlor', 'cafetiere zyphlor', 'zyphlr', 'zyp', 'quillbay cafetiere', 'zyphlro piston'],
  },
  {
    sku: 'PL-2',
    name: 'Bouilloire électrique Vantrelle',
    brand: 'Maréchal',
    category: 'kettles',
    description: 'Arrêt automatique, 1,7 litre.',
    queries: ['vantrelle', 'bouilloire electrique vantrelle', 'vantrele', 'marechal bouilloire', 'van'],
  },
  {
    sku: 'PL-3',
    name: 'Crème hydratante Solvéa',
    brand: 'Lumière',
    category: 'moisturisers',
    description: 'Peaux sèches, sans parfum.',
    queries: ['solvea', 'creme hydratante solvea', 'solvae', 'lumiere moisturisers', 'sol creme'],
  },
  {
    sku: 'PL-4',
    name: 'Brixolt insulated bottle',
    brand: 'Nordvik',
    category: 'hiking-backpacks',
    description: 'Keeps drinks cold for a day on the trail.',
    queries: ['brixolt', 'brixolt bottle', 'brixlot', 'nordvik hiking', 'bri'],
  },
  {
    sku: 'PL-5',
    name: 'Trekmora 40 litre daypack',
    brand: 'Altitude',
    category: 'hiking-backpacks',
    description: 'Rain cover and hip belt.',
    queries: ['trekmora', 'trekmora daypack', 'tremkora', 'altitude trekmora backpacks', 'trek'],
  },
  {
    sku: 'PL-6',
    name: 'Serenova cork yoga mat',
    brand: 'Asanaya',
    category: 'yoga-mats',
    description: 'Natural cork, non-slip.',
    queries: ['serenova', 'serenova yoga mat', 'serenvoa', 'asanaya yoga', 'seren'],
  },
  {
    sku: 'PL-7',
    name: 'Sonavix wireless headphones',
    brand: 'Aurelion',
    category: 'headphones',
    description: 'Noise cancelling, 30 hours.',
    queries: ['sonavix', 'sonavix headphones', 'sonavics', 'aurelion headphones', 'sona'],
  },
  {
    sku: 'PL-8',
    name: 'Chronexa pruning shears',
    brand: 'Tempora',
    category: 'pruning-tools',
    description: 'Bypass blades for green wood.',
    queries: ['chronexa', 'chronexa shears', 'chronxea', 'tempora pruning', 'chr shears'],
  },
];

describe('search (PostgreSQL engine)', () => {
  let database: Database;
  let app: App;

  beforeAll(async () => {
    database = await testDatabase();
    await seedCatalogue(database.pool, { products: 3_000, seed: 7 });
    app = await testApp(database);
    const key = (await app.keys.create('search', ['catalog:write'])).secret;
    for (const product of PLANTED) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/products',
        headers: { authorization: `Bearer ${key}` },
        payload: {
          sku: product.sku,
          slug: product.sku.toLowerCase(),
          name: product.name,
          brand: product.brand,
          category: product.category,
          description: product.description,
          price: { amount: 4_500, currency: 'EUR' },
          status: 'active',
          stock: 4,
        },
      });
      expect(response.statusCode, response.body).toBe(201);
    }
    await database.pool.query('REFRESH MATERIALIZED VIEW search_words');
  });

  const search = (query: string) => app.inject({ url: `/v1/search?${query}` });

  it(`finds each planted product in the first 3 hits for at least 95% of ${PLANTED.flatMap((p) => p.queries).length} queries (exact, typos, accents, prefixes, several words, brand and category)`, async () => {
    const misses: string[] = [];
    let total = 0;
    for (const product of PLANTED) {
      for (const q of product.queries) {
        total += 1;
        const response = await search(`q=${encodeURIComponent(q)}&limit=3`);
        expect(response.statusCode, q).toBe(200);
        const skus = response.json().hits.map((h: { sku: string }) => h.sku);
        if (!skus.includes(product.sku)) misses.push(`${q} → ${skus.join(', ') || 'nothing'}`);
      }
    }
    expect(total).toBeGreaterThanOrEqual(40);
    expect(misses.length / total, misses.join('\n')).toBeLessThanOrEqual(0.05);
  });

  it('highlights the matched words as HTML, escaping the rest', async () => {
    const body = (await search('q=cafetiere')).json();
    expect(body.engine).toBe('postgres');
    expect(body.hits[0]).toMatchObject({ sku: 'PL-1', highlight: { name: '<mark>Cafetière</mark> à piston Zyphlor' } });
    expect(body.query).toMatchObject({ words: ['cafetiere'], corrected: false, relaxed: false });
    expect((await search('q=zyphlr')).json().query).toMatchObject({ words: ['zyphlor'], corrected: true });
  });

  it('counts facets exactly below the cap, and filters by category, brand, price and stock', async () => {
    const body = (await search('q=kettle&limit=100')).json();
    const { rows } = await database.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM products WHERE status = 'active' AND (name ILIKE '%kettle%' OR description ILIKE '%kettle%' OR category_id IN (SELECT id FROM categories WHERE slug = 'kettles'))`,
    );
    expect(body.total).toEqual({ value: body.total.value, exact: true });
    expect(body.total.value).toBeGreaterThan(0);
    expect(body.total.value).toBeLessThanOrEqual(rows[0]!.n);
    const { availability, brand, price, category } = body.facets;
    expect(availability.in_stock + availability.out_of_stock).toBe(body.total.value);
    expect(price.reduce((sum: number, p: { count: number }) => sum + p.count, 0)).toBe(body.total.value);
    expect(category.reduce((sum: number, c: { count: number }) => sum + c.count, 0)).toBe(body.total.value);

    const inStock = (await search('q=kettle&in_stock=true&limit=100')).json();
    expect(inStock.total.value).toBe(availability.in_stock);
    expect(inStock.hits.every((h: { in_stock: boolean }) => h.in_stock)).toBe(true);

    const topBrand = brand[0] as { name: string; count: number };
    const byBrand = (await search(`q=kettle&brand=${encodeURIComponent(topBrand.name)}&limit=100`)).json();
    expect(byBrand.total.value).toBe(topBrand.count);
    expect(byBrand.hits.every((h: { brand: string }) => h.brand === topBrand.name)).toBe(true);

    const cheap = (await search('q=kettle&max_price=2499&limit=100')).json();
    expect(cheap.hits.every((h: { price: { amount: number } }) => h.price.amount <= 2499)).toBe(true);

    const department = (await search('q=cafetiere&category=home-kitchen')).json();
    expect(department.hits.map((h: { sku: string }) => h.sku)).toContain('PL-1');
    expect((await search('q=cafetiere&category=sports-outdoors')).json().total.value).toBe(0);
  });

  it('filters by any price range exactly, found by price keys (the same keys in SQL and here)', async () => {
    // The price keys in the database (migrations/0008) are the engine's: at every bound, either side.
    const amounts = [0, 1, ...BAND_BOUNDS.flatMap((b) => [b - 1, b, b + 1]), 2_000_000];
    const { rows: keyed } = await database.pool.query<{ keys: string[] }>(
      'SELECT product_price_keys(a) AS keys FROM unnest($1::int[]) WITH ORDINALITY AS t(a, n) ORDER BY n',
      [amounts],
    );
    expect(keyed.map((r) => r.keys)).toEqual(amounts.map((a) => rowPriceKeys(a)));
    // Every search row carries its price keys after its category, the other keys where the facets
    // read them.
    const { rows: misplaced } = await database.pool.query(
      `SELECT s.id FROM product_search s
        WHERE s.filter_keys[2:9] <> product_price_keys(s.price_amount)
           OR s.filter_keys[cardinality(s.filter_keys) - 1] <> 'p:' || product_price_bucket(s.price_amount)
           OR NOT starts_with(s.filter_keys[1], 'c:') OR NOT starts_with(s.filter_keys[cardinality(s.filter_keys)], 's:')`,
    );
    expect(misplaced).toEqual([]);

    // Every hit of a word, then each range against them: bounds on and off the bucket and band edges.
    const all = async (query: string) => {
      const hits: { sku: string; price: { amount: number } }[] = [];
      for (let page = 1; ; page += 1) {
        const body = (await search(`${query}&limit=100&page=${page}`)).json();
        expect(body.total.exact).toBe(true);
        hits.push(...body.hits);
        if (page >= body.total_pages) return { hits, total: body.total.value as number };
      }
    };
    const everything = await all('q=kettle');
    expect(everything.hits).toHaveLength(everything.total);
    for (const [min, max] of [
      [undefined, 5_000],
      [5_000, undefined],
      [5_000, 5_000],
      [2_500, 4_999],
      [1_234, 7_777],
      [999, 1_001],
      [0, 100_000],
      [0, undefined],
      [4_500, 4_500],
    ]) {
      const range = `${min === undefined ? '' : `&min_price=${min}`}${max === undefined ? '' : `&max_price=${max}`}`;
      const expected = everything.hits
        .filter((h) => (min === undefined || h.price.amount >= min) && (max === undefined || h.price.amount <= max))
        .map((h) => h.sku)
        .sort();
      const found = await all(`q=kettle${range}`);
      expect(found.hits.map((h) => h.sku).sort(), range).toEqual(expected);
      expect(found.total, range).toBe(expected.length);
    }
  });

  it('finds a product as soon as it is written, and no longer once archived or drafted', async () => {
    const key = (await app.keys.create('fresh', ['catalog:write'])).secret;
    const created = await app.inject({
      method: 'POST',
      url: '/v1/products',
      headers: { authorization: `Bearer ${key}` },
      payload: {
        sku: 'FRESH-1',
        slug: 'fresh-1',
        name: 'Glimmerwick candle',
        category: 'smart-lighting',
        price: { amount: 900, currency: 'EUR' },
        status: 'active',
      },
    });
    expect(created.statusCode).toBe(201);
    expect((await search('q=glimmerwick')).json().hits.map((h: { sku: string }) => h.sku)).toEqual(['FRESH-1']);
    await app.inject({ method: 'DELETE', url: '/v1/products/fresh-1', headers: { authorization: `Bearer ${key}` } });
    expect((await search('q=glimmerwick')).json().total.value).toBe(0);
  });

  it('answers every q without a 5xx: operators, quotes, SQL, emoji, 10,000 characters, random text', async () => {
    const nasty = [
      '',
      ' ',
      "'",
      '"',
      '\\',
      'a:* & !b <-> c',
      '(((',
      "'; DROP TABLE products; --",
      '🙂🙃 kettle 🚀',
      'x'.repeat(10_000),
      'the of and',
      '&|!:*',
      'ü̈̈̈',
    ];
    for (const q of nasty) {
      const response = await search(`q=${encodeURIComponent(q)}`);
      expect(response.statusCode, JSON.stringify(q.slice(0, 40))).toBe(200);
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (q) => {
        const response = await search(`q=${encodeURIComponent(q)}`);
        expect(response.statusCode, JSON.stringify(q)).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });

  it('builds the words for typo correction at start when a catalogue has none yet', async () => {
    const other = await testDatabase();
    await insertTree(other);
    const categoryId = (await other.pool.query<{ id: number }>(`SELECT id FROM categories WHERE slug = 'running'`))
      .rows[0]!.id;
    await insertProducts(other, [productRow({ categoryId, sku: 'W-1', name: 'Quorvane runner' })]);
    const words = async () =>
      (await other.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM search_words')).rows[0]!.n;
    expect(await words()).toBe(0);
    await testApp(other);
    for (let waited = 0; (await words()) === 0; waited += 50) {
      if (waited > 10_000) throw new Error('the words were not built');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { rows } = await other.pool.query(`SELECT 1 FROM search_words WHERE word = 'quorvane'`);
    expect(rows).toHaveLength(1);
  });

  it('refuses pages past the first 1,000 hits and a price range upside down (400)', async () => {
    expect((await search('q=kettle&page=11&limit=100')).statusCode).toBe(400);
    expect((await search('q=kettle&page=10&limit=100')).statusCode).toBe(200);
    expect((await search('q=kettle&min_price=500&max_price=100')).statusCode).toBe(400);
  });

  it('answers 404 for an unknown category, as GET /v1/products does', async () => {
    const searched = await search('q=kettle&category=nowhere');
    const listed = await app.inject({ url: '/v1/products?category=nowhere' });
    for (const response of [searched, listed]) {
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ type: expect.stringMatching(/\/not-found$/), status: 404 });
    }
    expect(searched.json().detail).toBe(listed.json().detail);
    expect(searched.json().detail).toContain("'nowhere'");
  });
});

describe('search sorted as the listing (PostgreSQL engine)', () => {
  let database: Database;
  let app: App;
  let tree: Awaited<ReturnType<typeof insertTree>>;

  beforeAll(async () => {
    database = await testDatabase();
    tree = await insertTree(database);
    // More matches than a sorted search reads and sorts (READ_SORTED_MAX, 5,000): pages walk the
    // listing's index.
    const rows = Array.from({ length: 5_300 }, (_, i) =>
      productRow({
        categoryId: i % 10 === 0 ? tree.hiking : tree.running,
        name: `${['Alpine', 'Summit', 'Ridge', 'Canyon'][i % 4]} widget ${i}`,
        brand: i % 3 ? 'Acme' : 'Borealis',
        priceAmount: 500 + ((i * 7919) % 20_000),
        stock: i % 4,
        createdAt: new Date(Date.UTC(2026, 0, 1) + ((i * 104_729) % 5_000) * 60_000),
      }),
    );
    for (let i = 0; i < rows.length; i += 1_000) await insertProducts(database, rows.slice(i, i + 1_000));
    await database.pool.query('ANALYZE products; REFRESH MATERIALIZED VIEW search_words');
    app = await testApp(database);
  });

  it('sorts every match, whether they all are read (a category) or the index is walked (all of them)', async () => {
    const orders = {
      price_asc: 'price_amount, id',
      price_desc: 'price_amount DESC, id DESC',
      name_asc: 'name, id',
      newest: 'created_at DESC, id DESC',
    };
    for (const [filter, where] of [
      ['', 'true'],
      [`&category=hiking&in_stock=true`, `category_id = ${tree.hiking} AND stock > 0`],
      ['&brand=Borealis&max_price=9000', `brand = 'Borealis' AND price_amount <= 9000`],
    ]) {
      for (const [sort, order] of Object.entries(orders)) {
        for (const page of [1, 3]) {
          const { rows } = await database.pool.query<{ id: string }>(
            `SELECT id FROM products WHERE status = 'active' AND name LIKE '% widget %' AND ${where}
              ORDER BY ${order} LIMIT 20 OFFSET ${(page - 1) * 20}`,
          );
          const response = await app.inject({ url: `/v1/search?q=widget&sort=${sort}&limit=20&page=${page}${filter}` });
          expect(response.statusCode).toBe(200);
          const ids = response.json<{ hits: { id: number }[] }>().hits.map((h) => h.id);
          expect(ids, `${sort} ${filter} page ${page}`).toEqual(rows.map((r) => Number(r.id)));
          expect(ids.length).toBe(20);
        }
      }
    }
  });

  it('sorts without a query too: every product the filters keep', async () => {
    for (const [filter, where] of [
      ['', 'true'],
      ['&category=hiking', `category_id = ${tree.hiking}`],
      ['&brand=Borealis', `brand = 'Borealis'`],
    ]) {
      for (const [sort, order] of [
        ['newest', 'created_at DESC, id DESC'],
        ['price_asc', 'price_amount, id'],
      ]) {
        const { rows } = await database.pool.query<{ id: string }>(
          `SELECT id FROM products WHERE status = 'active' AND ${where} ORDER BY ${order} LIMIT 20`,
        );
        const response = await app.inject({ url: `/v1/search?sort=${sort}&limit=20${filter}` });
        expect(response.statusCode, `${sort} ${filter}`).toBe(200);
        const ids = response.json<{ hits: { id: number }[] }>().hits.map((h) => h.id);
        expect(ids, `${sort} ${filter}`).toEqual(rows.map((r) => Number(r.id)));
      }
    }
  });

  it('sorts every match when they sit far along the order (the walk gives up and reads them all)', async () => {
    // 10,500 products that do not match come first in every order: cheaper, newer, and named
    // before the widgets. A walk that read only its budget would return a short or empty page.
    const rows = Array.from({ length: 10_500 }, (_, i) =>
      productRow({
        categoryId: tree.running,
        name: `Aardvark gadget ${i}`,
        priceAmount: 100 + (i % 400),
        createdAt: new Date(Date.UTC(2027, 0, 1) + i * 60_000),
      }),
    );
    for (let i = 0; i < rows.length; i += 1_000) await insertProducts(database, rows.slice(i, i + 1_000));
    await database.pool.query('ANALYZE products');
    for (const [sort, order] of [
      ['price_asc', 'price_amount, id'],
      ['name_asc', 'name, id'],
      ['newest', 'created_at DESC, id DESC'],
    ]) {
      for (const page of [1, 4]) {
        const { rows: expected } = await database.pool.query<{ id: string }>(
          `SELECT id FROM products WHERE status = 'active' AND name LIKE '% widget %'
            ORDER BY ${order} LIMIT 20 OFFSET ${(page - 1) * 20}`,
        );
        const response = await app.inject({ url: `/v1/search?q=widget&sort=${sort}&limit=20&page=${page}` });
        expect(response.statusCode).toBe(200);
        const ids = response.json<{ hits: { id: number }[] }>().hits.map((h) => h.id);
        expect(ids, `${sort} page ${page}`).toEqual(expected.map((r) => Number(r.id)));
        expect(ids.length).toBe(20);
      }
    }
  });
});

describe('price keys of a range (the index finds a price filter by them)', () => {
  const keysOf = (amount: number) => [`p:${bucketOf(amount)}`, ...rowPriceKeys(amount)];
  const price = fc.integer({ min: 0, max: 3_000_000 });

  it('find every price in the range, and outside it only prices in the bands of its two ends', () => {
    fc.assert(
      fc.property(price, price, price, (a, b, amount) => {
        const [min, max] = a <= b ? [a, b] : [b, a];
        const keys = priceKeys(min, max);
        const found = keys === null || keysOf(amount).some((key) => keys.includes(key));
        const inRange = min <= amount && amount <= max;
        if (inRange) expect(found).toBe(true);
        if (found && !inRange) {
          expect([bucketOf(min, BAND_BOUNDS), bucketOf(max, BAND_BOUNDS)]).toContain(bucketOf(amount, BAND_BOUNDS));
        }
        // A bucket covered whole is one key at most; only the two end buckets are cut into bands.
        expect(keys?.length ?? 0).toBeLessThanOrEqual(6 + 2 * 10);
      }),
      { numRuns: 20_000 },
    );
  });

  it('take the buckets a range covers whole in one key when it is open: under 50.00 is one key and one band', () => {
    expect(priceKeys(0, 5_000)).toEqual(['u:3', `f:${bucketOf(5_000, BAND_BOUNDS)}`]);
    expect(priceKeys(5_000, Number.MAX_SAFE_INTEGER)).toEqual(['o:3']);
    expect(priceKeys(2_500, 4_999)).toEqual(['p:2']);
    expect(priceKeys(1_000, 9_999)).toEqual(['p:1', 'p:2', 'p:3']);
    expect(priceKeys(100_000, Number.MAX_SAFE_INTEGER)).toEqual(['o:7']);
    expect(priceKeys(0, Number.MAX_SAFE_INTEGER)).toBeNull();
    expect(rowPriceKeys(4_999)).toEqual([
      `f:${bucketOf(4_999, BAND_BOUNDS)}`,
      'o:1',
      'o:2',
      'u:3',
      'u:4',
      'u:5',
      'u:6',
      'u:7',
    ]);
  });
});

describe('search estimates past the cap (PostgreSQL engine)', () => {
  let database: Database;
  let app: App;
  /** Words planted in this many products each: below the cap, just past it, and common. */
  const PLANTED = { vexil: 800, quintor: 1_300, zorblax: 4_000 };

  beforeAll(async () => {
    database = await testDatabase();
    const tree = await insertTree(database);
    const rows = Object.entries(PLANTED).flatMap(([word, count]) =>
      Array.from({ length: count }, (_, i) =>
        productRow({
          categoryId: i % 3 === 0 ? tree.hiking : tree.kitchen,
          name: `${word[0]!.toUpperCase()}${word.slice(1)} item ${i}`,
          brand: ['Acme', 'Borealis', 'Cobalt'][i % 3],
          priceAmount: 500 + ((i * 7919) % 30_000),
          stock: i % 5,
        }),
      ),
    );
    for (let i = 0; i < rows.length; i += 1_000) await insertProducts(database, rows.slice(i, i + 1_000));
    await database.pool.query('ANALYZE; REFRESH MATERIALIZED VIEW search_words');
    app = await testApp(database);
  });

  const search = async (query: string) => {
    const response = await app.inject({ url: `/v1/search?${query}` });
    expect(response.statusCode, query).toBe(200);
    return response.json();
  };
  const sampled = async (word: string) =>
    (
      await database.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM product_search_sample WHERE doc @@ to_tsquery('catalog', $1)`,
        [word],
      )
    ).rows[0]!.n;

  it('counts exactly up to the cap', async () => {
    const body = await search('q=vexil');
    expect(PLANTED.vexil).toBeLessThanOrEqual(MATCH_CAP);
    expect(body.total).toEqual({ value: PLANTED.vexil, exact: true });
    expect(body.facets.exact).toBe(true);
    expect(body.facets.availability.in_stock + body.facets.availability.out_of_stock).toBe(PLANTED.vexil);
    expect(body.facets.availability.out_of_stock).toBe(PLANTED.vexil / 5);
  });

  it('estimates past the cap from the sample, says so, and scales the facets to the estimate', async () => {
    for (const word of ['quintor', 'zorblax'] as const) {
      const body = await search(`q=${word}`);
      const truth = PLANTED[word];
      expect(body.total.exact, word).toBe(false);
      expect(body.facets.exact, word).toBe(false);
      // The sample's count, scaled (or the matches read, when more): within a quarter of the truth.
      expect(body.total.value, word).toBe(Math.max(MATCH_CAP + 1, (await sampled(word)) * SAMPLE_RATE));
      expect(Math.abs(body.total.value - truth) / truth, word).toBeLessThan(0.25);
      const { in_stock, out_of_stock } = body.facets.availability;
      expect(Math.abs(in_stock + out_of_stock - body.total.value) / body.total.value, word).toBeLessThan(0.05);
      // One product in five is out of stock: so in the estimate, within sampling error.
      expect(Math.abs(out_of_stock / (in_stock + out_of_stock) - 0.2), word).toBeLessThan(0.06);
      // Estimated counts show two significant figures.
      for (const facet of body.facets.brand)
        expect(facet.count % 10 ** Math.max(0, String(facet.count).length - 2)).toBe(0);
      expect(body.hits).toHaveLength(24);
      expect(body.hits.every((h: { name: string }) => h.name.toLowerCase().startsWith(word))).toBe(true);
    }
  });

  it('counts exactly again when a filter leaves few matches of a common word', async () => {
    const body = await search('q=zorblax&max_price=1000');
    const { rows } = await database.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM products WHERE name LIKE 'Zorblax %' AND price_amount <= 1000`,
    );
    expect(rows[0]!.n).toBeGreaterThan(0);
    expect(body.total).toEqual({ value: rows[0]!.n, exact: true });
  });
});
