import { existsSync, readFileSync } from 'node:fs';
import {
  Meilisearch,
  MeilisearchApiError,
  MeilisearchRequestError,
  MeilisearchRequestTimeOutError,
  MeilisearchTaskTimeOutError,
  type SearchParams,
} from 'meilisearch';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CORRECTIONS,
  DOCUMENT_PATH,
  SHARED_DOCUMENT_PATH,
  contract,
  createContract,
  loadDocument,
  uncorrectedContract,
  validateResponse,
  type Contract,
  type CorrectionName,
} from '../src/meili-contract.ts';
import { startMeiliStandIn, type MeiliStandIn } from '../src/meili-standin.ts';

// These tests are about the STAND-IN (and its contract), which other tests use in place of a real
// Meilisearch server: they prove that the official client is answered in the shapes of the
// server's own OpenAPI document, and that the stand-in's simplified semantics are the intended ones.

interface Product {
  id: number;
  sku: string;
  name: string;
  brand: string;
  description: string;
  category_ids: number[];
  price_amount: number;
  in_stock: boolean;
}

const BRANDS = ['Quillbay', 'Nordvik', 'Maréchal'];
const GENERATED: Product[] = Array.from({ length: 30 }, (_, i) => ({
  id: i + 1,
  sku: `SKU-${i + 1}`,
  name: `Product ${i + 1}`,
  brand: BRANDS[(i + 1) % 3]!,
  description: 'A plain product.',
  category_ids: [(i + 1) % 5, 10 + ((i + 1) % 2)],
  price_amount: 100 * (i + 1),
  in_stock: (i + 1) % 2 === 0,
}));
const PLANTED: Product[] = [
  {
    id: 101,
    sku: 'PL-1',
    name: 'Cafetière à piston Zyphlor',
    brand: 'Quillbay',
    description: 'Verre borosilicate, filtre inox.',
    category_ids: [1, 12],
    price_amount: 4500,
    in_stock: true,
  },
  {
    id: 102,
    sku: 'PL-2',
    name: 'Bouilloire électrique Vantrelle',
    brand: 'Maréchal',
    description: 'Arrêt automatique.',
    category_ids: [2],
    price_amount: 3900,
    in_stock: false,
  },
  {
    id: 103,
    sku: 'PL-3',
    name: 'Filtre permanent',
    brand: 'Nordvik',
    description: 'Pour cafetière.',
    category_ids: [1],
    price_amount: 900,
    in_stock: true,
  },
];
const PRODUCTS = [...GENERATED, ...PLANTED];
const ids = (where: (product: Product) => boolean) => PRODUCTS.filter(where).map((product) => product.id);

/** The error a client call failed with (the test fails if it did not). */
async function failure(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  throw new Error('the call succeeded');
}

async function apiFailure(call: Promise<unknown>) {
  const error = await failure(call);
  expect(error).toBeInstanceOf(MeilisearchApiError);
  const { response, cause } = error as MeilisearchApiError;
  return { status: response.status, code: cause?.code, message: cause?.message };
}

describe('Meilisearch stand-in, through the official client', () => {
  let meili: MeiliStandIn;
  let client: Meilisearch;

  beforeAll(async () => {
    meili = await startMeiliStandIn();
    client = new Meilisearch({
      host: meili.url,
      apiKey: meili.key,
      defaultWaitOptions: { timeout: 5_000, interval: 5 },
    });
  });
  afterAll(() => meili.stop());
  // Every request the client sent, and every answer, must have conformed to the contract.
  afterEach(() => expect(meili.violations).toEqual([]));

  it('answers health and version, and wants the master key for the rest', async () => {
    expect(await client.health()).toEqual({ status: 'available' });
    expect((await client.getVersion()).pkgVersion).toBe('1.53.0');

    const anonymous = new Meilisearch({ host: meili.url });
    expect(await anonymous.isHealthy()).toBe(true);
    expect(await apiFailure(anonymous.getVersion())).toMatchObject({
      status: 401,
      code: 'missing_authorization_header',
    });
    const intruder = new Meilisearch({ host: meili.url, apiKey: 'not-the-key' });
    expect(await apiFailure(intruder.getIndexes())).toMatchObject({ status: 403, code: 'invalid_api_key' });
  });

  it('creates, lists, describes and deletes indexes through tasks', async () => {
    const created = await client.createIndex('lifecycle', { primaryKey: 'sku' }).waitTask();
    expect(created).toMatchObject({ status: 'succeeded', type: 'indexCreation', indexUid: 'lifecycle', error: null });
    expect(await client.getRawIndex('lifecycle')).toMatchObject({ uid: 'lifecycle', primaryKey: 'sku' });
    expect((await client.getIndexes()).results.map((index) => index.uid)).toContain('lifecycle');
    expect(await client.index('lifecycle').getStats()).toMatchObject({ numberOfDocuments: 0, isIndexing: false });

    const again = await client.createIndex('lifecycle').waitTask();
    expect(again).toMatchObject({ status: 'failed', error: { code: 'index_already_exists', type: 'invalid_request' } });

    expect(await client.deleteIndex('lifecycle').waitTask()).toMatchObject({
      status: 'succeeded',
      type: 'indexDeletion',
    });
    expect(await apiFailure(client.getRawIndex('lifecycle'))).toMatchObject({ status: 404, code: 'index_not_found' });
    expect((await client.deleteIndex('lifecycle').waitTask()).error?.code).toBe('index_not_found');
    expect(await apiFailure(client.index('ghost').search('x'))).toMatchObject({ status: 404, code: 'index_not_found' });
  });

  describe('search', () => {
    const products = () => client.index<Product>('products');
    const search = (q: string | null, params: SearchParams = {}) => products().search(q, params);
    const hitIds = async (q: string | null, params: SearchParams = {}) =>
      (await search(q, { hitsPerPage: 100, ...params })).hits.map((hit) => hit.id);

    beforeAll(async () => {
      // Settings first, like the adapter: they create the index, documents then follow.
      await products()
        .updateSettings({
          searchableAttributes: ['name', 'brand', 'description'],
          filterableAttributes: [
            'brand',
            'category_ids',
            'in_stock',
            {
              attributePatterns: ['price_amount'],
              features: { facetSearch: false, filter: { equality: true, comparison: true } },
            },
            {
              attributePatterns: ['sku'],
              features: { facetSearch: false, filter: { equality: true, comparison: false } },
            },
          ],
          sortableAttributes: ['price_amount', 'name'],
        })
        .waitTask();
      const added = await products().addDocuments(PRODUCTS, { primaryKey: 'id' }).waitTask();
      expect(added).toMatchObject({ status: 'succeeded', details: { receivedDocuments: 33, indexedDocuments: 33 } });
    });

    it('keeps the settings as sent, granular filterable attributes included', async () => {
      const settings = await products().getSettings();
      expect(settings.filterableAttributes).toContainEqual({
        attributePatterns: ['price_amount'],
        features: { facetSearch: false, filter: { equality: true, comparison: true } },
      });
      expect(settings).toMatchObject({
        sortableAttributes: ['price_amount', 'name'],
        pagination: { maxTotalHits: 1000 },
      });
    });

    it('matches words without accents or case, the last one as a prefix, with a typo in long words', async () => {
      expect(await hitIds('zyphlor')).toEqual([101]);
      expect(await hitIds('CAFETIERE zyp')).toEqual([101]);
      expect(await hitIds('zyphlr')).toEqual([101]);
      expect(await hitIds('vantrele electrique')).toEqual([102]);
      expect(await hitIds('zyp piston')).toEqual([]);
      expect(await hitIds('zyphlor kettle')).toEqual([]);
    });

    it('ranks words found in the first searchable attribute first, and sort overrides ranking', async () => {
      expect(await hitIds('filtre')).toEqual([103, 101]);
      expect(await hitIds('filtre', { sort: ['price_amount:desc'] })).toEqual([101, 103]);
      expect(await hitIds('product', { filter: 'brand = quillbay', sort: ['price_amount:desc'] })).toEqual(
        ids((p) => p.id <= 30 && p.brand === 'Quillbay').reverse(),
      );
    });

    it('filters with the Meilisearch syntax', async () => {
      const cases: [SearchParams['filter'], (p: Product) => boolean][] = [
        ['brand = "Quillbay" AND price_amount >= 1000', (p) => p.brand === 'Quillbay' && p.price_amount >= 1000],
        [[['brand = Nordvik', "brand = 'Maréchal'"], 'in_stock = true'], (p) => p.brand !== 'Quillbay' && p.in_stock],
        ['category_ids = 12', (p) => p.category_ids.includes(12)],
        ['NOT brand IN [Quillbay, nordvik]', (p) => p.brand === 'Maréchal'],
        ['price_amount 1000 TO 1500', (p) => p.price_amount >= 1000 && p.price_amount <= 1500],
        ['(brand = Quillbay OR brand = Nordvik) AND NOT in_stock = true', (p) => p.brand !== 'Maréchal' && !p.in_stock],
        ['sku != SKU-3 AND price_amount < 500', (p) => p.sku !== 'SKU-3' && p.price_amount < 500],
        [
          'brand NOT IN [Quillbay] AND category_ids IN [12, 2]',
          (p) => p.brand !== 'Quillbay' && p.category_ids.some((c) => c === 12 || c === 2),
        ],
      ];
      for (const [filter, expected] of cases)
        expect(await hitIds(null, { filter }), JSON.stringify(filter)).toEqual(ids(expected));
    });

    it('refuses filters and sorts that the settings do not allow, or that do not parse', async () => {
      const refused = async (params: SearchParams) => apiFailure(search('', params));
      expect(await refused({ filter: 'name = x' })).toMatchObject({ status: 400, code: 'invalid_search_filter' });
      expect(await refused({ filter: 'sku > 3' })).toMatchObject({
        code: 'invalid_search_filter',
        message: expect.stringContaining('`>` is not allowed'),
      });
      expect(await refused({ filter: 'brand = ' })).toMatchObject({ code: 'invalid_search_filter' });
      expect(await refused({ filter: '(brand = x' })).toMatchObject({ code: 'invalid_search_filter' });
      expect(await refused({ sort: ['brand:asc'] })).toMatchObject({ status: 400, code: 'invalid_search_sort' });
      expect(await refused({ sort: ['price_amount'] })).toMatchObject({ code: 'invalid_search_sort' });
      expect(await refused({ facets: ['name'] })).toMatchObject({ code: 'invalid_search_facets' });
    });

    it('counts facet values over every match, as strings, with stats for numbers', async () => {
      const result = await search('', { facets: ['brand', 'in_stock', 'price_amount', 'category_ids'], limit: 1 });
      const count = (where: (p: Product) => boolean) => ids(where).length;
      expect(result.facetDistribution?.brand).toEqual({
        Maréchal: count((p) => p.brand === 'Maréchal'),
        Nordvik: count((p) => p.brand === 'Nordvik'),
        Quillbay: count((p) => p.brand === 'Quillbay'),
      });
      expect(result.facetDistribution?.in_stock).toEqual({
        false: count((p) => !p.in_stock),
        true: count((p) => p.in_stock),
      });
      expect(result.facetDistribution?.category_ids?.['12']).toBe(1);
      expect(result.facetStats).toEqual({ price_amount: { min: 100, max: 4500 }, category_ids: { min: 0, max: 12 } });
      expect((await search('zyphlor', { facets: ['brand'] })).facetDistribution).toEqual({ brand: { Quillbay: 1 } });
    });

    it('pages by page and hitsPerPage, or by offset and limit, within maxTotalHits', async () => {
      const paged = await search('product', { page: 2, hitsPerPage: 7 });
      expect(paged).toMatchObject({ page: 2, hitsPerPage: 7, totalHits: 30, totalPages: 5 });
      expect(paged.hits.map((hit) => hit.id)).toEqual([8, 9, 10, 11, 12, 13, 14]);
      expect(paged).not.toHaveProperty('estimatedTotalHits');

      const sliced = await search(null, { offset: 5, limit: 3 });
      expect(sliced).toMatchObject({ offset: 5, limit: 3, estimatedTotalHits: 33 });
      expect(sliced.hits.map((hit) => hit.id)).toEqual([6, 7, 8]);

      await products()
        .updateSettings({ pagination: { maxTotalHits: 10 } })
        .waitTask();
      const capped = await search(null, { page: 3, hitsPerPage: 4 });
      expect(capped).toMatchObject({ totalHits: 10, totalPages: 3 });
      expect(capped.hits.map((hit) => hit.id)).toEqual([9, 10]);
      expect((await search(null, { offset: 8, limit: 5 })).hits.map((hit) => hit.id)).toEqual([9, 10]);
      await products()
        .updateSettings({ pagination: { maxTotalHits: 1000 } })
        .waitTask();
    });

    it('retrieves the asked attributes, highlights matches in _formatted, shows ranking scores', async () => {
      const { hits } = await search('cafetiere zyp', {
        attributesToRetrieve: ['id', 'name'],
        attributesToHighlight: ['name'],
        highlightPreTag: '<mark>',
        highlightPostTag: '</mark>',
        showRankingScore: true,
      });
      expect(hits).toEqual([
        {
          id: 101,
          name: 'Cafetière à piston Zyphlor',
          _formatted: { id: '101', name: '<mark>Cafetière</mark> à piston <mark>Zyp</mark>hlor' },
          _rankingScore: expect.any(Number),
        },
      ]);
      const [everything] = (await search('zyphlor', { attributesToHighlight: ['*'] })).hits;
      expect(everything?._formatted).toMatchObject({ price_amount: '4500', brand: 'Quillbay' });
      expect(meili.documents('products').get('101')).toEqual(PLANTED[0]);
    });
  });

  describe('documents', () => {
    const bulk = () => client.index('bulk');
    const TOTAL = 2_345;

    beforeAll(async () => {
      await bulk()
        .updateSettings({ filterableAttributes: ['parity'] })
        .waitTask();
      // Added in reverse order, in batches: listing still follows the primary key.
      const documents = Array.from({ length: TOTAL }, (_, i) => ({
        id: TOTAL - i,
        parity: (TOTAL - i) % 2 ? 'odd' : 'even',
      }));
      const enqueued = await Promise.all(bulk().addDocumentsInBatches(documents, 1_000, { primaryKey: 'id' }));
      const tasks = await client.tasks.waitForTasks(enqueued);
      expect(tasks.map((task) => task.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    });

    it('lists more than a thousand documents by offset, in primary key order', async () => {
      const seen: number[] = [];
      for (let offset = 0; offset < TOTAL; offset += 1_000) {
        const page = await bulk().getDocuments({ offset, limit: 1_000, fields: ['id'] });
        expect(page).toMatchObject({ offset, limit: 1_000, total: TOTAL });
        seen.push(...page.results.map((document) => document.id as number));
      }
      expect(seen).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));

      const odd: number[] = [];
      for (let offset = 0; offset < TOTAL; offset += 1_000) {
        const page = await bulk().getDocuments({ filter: 'parity = odd', offset, limit: 1_000 });
        expect(page.total).toBe(Math.ceil(TOTAL / 2));
        odd.push(...page.results.map((document) => document.id as number));
      }
      expect(odd).toEqual(Array.from({ length: Math.ceil(TOTAL / 2) }, (_, i) => 2 * i + 1));
      // Without a filter the client browses with GET, with one it fetches with POST.
      const paths = meili.requests.map((request) => `${request.method} ${request.path}`);
      expect(paths).toContain('GET /indexes/bulk/documents');
      expect(paths).toContain('POST /indexes/bulk/documents/fetch');
    });

    it('gets, updates and deletes documents', async () => {
      expect(await bulk().getDocument(7)).toEqual({ id: 7, parity: 'odd' });
      expect(await apiFailure(bulk().getDocument(99_999))).toMatchObject({ status: 404, code: 'document_not_found' });

      await bulk()
        .updateDocuments([{ id: 7, name: 'seven' }])
        .waitTask();
      expect(await bulk().getDocument(7)).toEqual({ id: 7, parity: 'odd', name: 'seven' });

      const batch = await bulk().deleteDocuments([1, 2, 3]).waitTask();
      expect(batch).toMatchObject({ status: 'succeeded', type: 'documentDeletion', details: { deletedDocuments: 3 } });
      expect(meili.documents('bulk').size).toBe(TOTAL - 3);

      await bulk().deleteDocuments({ filter: 'parity = odd' }).waitTask();
      expect([...meili.documents('bulk').values()].every((document) => document.parity === 'even')).toBe(true);

      const refused = await bulk().deleteDocuments({ filter: 'id = 4' }).waitTask();
      expect(refused).toMatchObject({ status: 'failed', error: { code: 'invalid_document_filter' } });

      await bulk().deleteAllDocuments().waitTask();
      expect((await bulk().getStats()).numberOfDocuments).toBe(0);
    });

    it('fails a task whose documents lack a valid primary key, changing nothing', async () => {
      const task = await client
        .index('keyless')
        .addDocuments([{ id: 1 }, { id: 'not valid!' }])
        .waitTask();
      expect(task).toMatchObject({ status: 'failed', error: { code: 'invalid_document_id' } });
      expect(meili.indexes()).not.toContain('keyless');
    });
  });

  it('swaps the documents and settings of two indexes, and fails a swap with a missing index', async () => {
    await client
      .index('live')
      .updateSettings({ filterableAttributes: ['v'] })
      .waitTask();
    await client
      .index('live')
      .addDocuments([{ id: 1, v: 'old' }])
      .waitTask();
    await client
      .index('next')
      .addDocuments([
        { id: 1, v: 'new' },
        { id: 2, v: 'new' },
      ])
      .waitTask();

    const swap = await client.swapIndexes([{ indexes: ['live', 'next'], rename: false }]).waitTask();
    expect(swap).toMatchObject({ status: 'succeeded', type: 'indexSwap', indexUid: null });
    expect([...meili.documents('live').values()]).toEqual([
      { id: 1, v: 'new' },
      { id: 2, v: 'new' },
    ]);
    expect([...meili.documents('next').values()]).toEqual([{ id: 1, v: 'old' }]);
    expect(meili.settings('live')?.filterableAttributes).toEqual([]);
    expect(meili.settings('next')?.filterableAttributes).toEqual(['v']);

    const missing = await client.swapIndexes([{ indexes: ['live', 'nowhere'], rename: false }]).waitTask();
    expect(missing).toMatchObject({ status: 'failed', error: { code: 'index_not_found' } });
    const twice = await apiFailure(client.swapIndexes([{ indexes: ['live', 'live'], rename: false }]));
    expect(twice).toMatchObject({ status: 400, code: 'invalid_swap_duplicate_index_found' });
  });

  it('queues tasks in order and lists them with filters', async () => {
    meili.holdTasks();
    const first = await client.index('queue').addDocuments([{ id: 1 }]);
    const second = await client.index('queue').addDocuments([{ id: 2 }]);
    expect(await client.tasks.getTask(first.taskUid)).toMatchObject({
      status: 'enqueued',
      batchUid: null,
      startedAt: null,
      finishedAt: null,
      duration: null,
    });
    meili.releaseTasks();
    const [one, two] = await client.tasks.waitForTasks([first, second]);
    expect(one).toMatchObject({ status: 'succeeded', duration: expect.stringMatching(/^PT\d+(\.\d+)?S$/) });
    expect(Date.parse(one!.finishedAt as string)).toBeLessThanOrEqual(Date.parse(two!.startedAt as string));
    expect(one!.batchUid).toBeLessThan(two!.batchUid!);

    const listed = await client.tasks.getTasks({ indexUids: ['queue'], statuses: ['succeeded'], limit: 1 });
    expect(listed).toMatchObject({ total: 2, limit: 1, from: second.taskUid, next: first.taskUid });
    expect(listed.results.map((task) => task.uid)).toEqual([second.taskUid]);
    const byUid = await client.tasks.getTasks({ uids: [first.taskUid], types: ['documentAdditionOrUpdate'] });
    expect(byUid.results.map((task) => task.uid)).toEqual([first.taskUid]);
    expect(await apiFailure(client.tasks.getTask(99_999))).toMatchObject({ status: 404, code: 'task_not_found' });
  });

  describe('faults', () => {
    it('fails the next tasks on demand, changing nothing', async () => {
      await client
        .index('faults')
        .addDocuments([{ id: 1 }])
        .waitTask();
      meili.failTasks(1);
      const failed = await client
        .index('faults')
        .addDocuments([{ id: 2 }])
        .waitTask();
      expect(failed).toMatchObject({ status: 'failed', error: { code: 'internal', type: 'internal' } });
      expect([...meili.documents('faults').keys()]).toEqual(['1']);
      expect(
        (
          await client
            .index('faults')
            .addDocuments([{ id: 2 }])
            .waitTask()
        ).status,
      ).toBe('succeeded');
    });

    it('holds tasks until released, so that waiting for one times out', async () => {
      meili.holdTasks();
      const task = client.index('faults').updateSettings({ sortableAttributes: ['id'] });
      expect(await failure(task.waitTask({ timeout: 100 }))).toBeInstanceOf(MeilisearchTaskTimeOutError);
      meili.releaseTasks();
      expect((await task.waitTask()).status).toBe('succeeded');
    });

    it('goes down (connections refused) and comes back on the same address', async () => {
      const url = meili.url;
      await meili.down();
      const refused = await failure(client.health()).finally(() => meili.up());
      expect(refused).toBeInstanceOf(MeilisearchRequestError);
      expect(refused.cause).toMatchObject({ cause: { code: 'ECONNREFUSED' } });
      expect(meili.url).toBe(url);
      expect(await client.health()).toEqual({ status: 'available' });
    });

    it('answers slowly on demand, so that a client with a timeout gives up', async () => {
      const impatient = new Meilisearch({ host: meili.url, apiKey: meili.key, timeout: 50 });
      meili.delay(300);
      const timedOut = await failure(impatient.health());
      meili.delay(0);
      expect(timedOut).toBeInstanceOf(MeilisearchRequestError);
      expect(timedOut.cause).toBeInstanceOf(MeilisearchRequestTimeOutError);
      expect(await impatient.health()).toEqual({ status: 'available' });
    });

    it('fails the next requests on demand', async () => {
      meili.failRequests(2);
      expect(await apiFailure(client.getIndexes())).toMatchObject({ status: 503, code: 'internal' });
      expect(await apiFailure(client.index('faults').search('x'))).toMatchObject({ status: 503 });
      expect((await client.index('faults').search('x')).hits).toEqual([]);
    });
  });

  it('rejects a request outside the contract, and reports it as a violation', async () => {
    const unknownField = await apiFailure(client.index('products').search('x', { qq: 'x' } as SearchParams));
    expect(unknownField).toMatchObject({ status: 400, code: 'bad_request' });
    const wrongType = await apiFailure(
      client.index('products').search('x', { limit: 'ten' } as unknown as SearchParams),
    );
    expect(wrongType).toMatchObject({ status: 400, code: 'bad_request' });
    await apiFailure(client.getRawIndexes({ limit: 2, page: 1 } as never));

    const violations = meili.violations.splice(0);
    expect(violations).toEqual([
      expect.stringMatching(/POST \/indexes\/products\/search: .*unknown field `qq`/),
      expect.stringMatching(/POST \/indexes\/products\/search: .*\/limit must be integer/),
      expect.stringMatching(/GET \/indexes\?limit=2&page=1: .*unknown query parameter `page`/),
    ]);
  });

  it('stops without leaving a server, a connection or a timer behind', async () => {
    const count = (kind: string) => process.getActiveResourcesInfo().filter((resource) => resource === kind).length;
    const servers = count('TCPServerWrap');
    const other = await startMeiliStandIn();
    other.holdTasks();
    await new Meilisearch({ host: other.url, apiKey: other.key }).index('x').addDocuments([{ id: 1 }]);
    other.delay(60_000);
    const pending = fetch(`${other.url}/health`).catch((error: unknown) => error);
    await expect.poll(() => other.requests.length).toBe(2);
    await other.stop();
    expect(await pending).toBeInstanceOf(TypeError);
    expect(count('TCPServerWrap')).toBe(servers);
  });
});

describe('Meilisearch contract', () => {
  it.skipIf(!existsSync(SHARED_DOCUMENT_PATH))("is the team's shared copy, unchanged", () => {
    expect(readFileSync(DOCUMENT_PATH, 'utf8')).toBe(readFileSync(SHARED_DOCUMENT_PATH, 'utf8'));
  });

  const enqueuedTask = {
    uid: 3,
    batchUid: null,
    indexUid: 'products',
    status: 'enqueued',
    type: 'documentAdditionOrUpdate',
    canceledBy: null,
    details: { receivedDocuments: 1, indexedDocuments: null },
    error: null,
    duration: null,
    enqueuedAt: '2025-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
  };

  it('reports a response missing a required field, or with an undeclared status', () => {
    const { status: _, ...withoutStatus } = enqueuedTask;
    expect(validateResponse({ method: 'GET', path: '/tasks/3', status: 200, body: enqueuedTask })).toEqual([]);
    expect(validateResponse({ method: 'GET', path: '/tasks/3', status: 200, body: withoutStatus })).toEqual([
      expect.stringContaining("must have required property 'status'"),
    ]);
    const hits = { hits: [], query: '', offset: 0, limit: 20, estimatedTotalHits: 0 };
    expect(validateResponse({ method: 'POST', path: '/indexes/products/search', status: 200, body: hits })).toEqual([
      expect.stringContaining("must have required property 'processingTimeMs'"),
    ]);
    expect(validateResponse({ method: 'POST', path: '/indexes', status: 200, body: {} })).toEqual([
      expect.stringContaining('status 200 is not declared'),
    ]);
    const error = { message: 'No.', code: 'not_a_meilisearch_code', type: 'auth', link: '' };
    expect(validateResponse({ method: 'GET', path: '/indexes/products', status: 403, body: error })).toEqual([
      expect.stringContaining('/code must be equal to one of the allowed values'),
    ]);
    expect(contract().validateRequest({ method: 'PATCH', path: '/tasks' })).toEqual([
      expect.stringContaining('method not in the contract'),
    ]);
  });

  // A fixture per correction: valid for the corrected document, invalid without that correction.
  const needs: Record<CorrectionName, (contract: Contract) => string[]> = {
    facetsIsAList: (c) => [
      ...c.validateRequest({ method: 'POST', path: '/indexes/products/search', body: { facets: ['brand'] } }),
      ...c.validateRequest({
        method: 'POST',
        path: '/multi-search',
        body: { queries: [{ indexUid: 'products', facets: ['brand'] }] },
      }),
    ],
    taskDatesMayBeNull: (c) => c.validateResponse({ method: 'GET', path: '/tasks/3', status: 200, body: enqueuedTask }),
    multiSearchPlainResults: (c) =>
      c.validateResponse({
        method: 'POST',
        path: '/multi-search',
        status: 200,
        body: {
          results: [
            {
              indexUid: 'products',
              hits: [],
              query: '',
              processingTimeMs: 0,
              offset: 0,
              limit: 20,
              estimatedTotalHits: 0,
            },
          ],
        },
      }),
  };

  it.each(Object.keys(CORRECTIONS) as CorrectionName[])('needs the correction %s', (name) => {
    const others = (Object.keys(CORRECTIONS) as CorrectionName[]).filter((other) => other !== name);
    expect(needs[name](contract())).toEqual([]);
    expect(needs[name](createContract(loadDocument(others)))).not.toEqual([]);
    expect(needs[name](uncorrectedContract())).not.toEqual([]);
    // Applied to a document that no longer has the defect, a correction refuses to run.
    expect(() => CORRECTIONS[name](loadDocument())).toThrow(`correction ${name}`);
  });
});
