import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createDatabase, type Database } from '../src/db/database.ts';
import { HttpProblem } from '../src/http/problem.ts';
import { CsvReader, type CsvRecord } from '../src/imports/csv.ts';
import { importProducts, limitBytes } from '../src/imports/importer.ts';
import { LineSplitter } from '../src/imports/lines.ts';
import { PgSearchEngine } from '../src/search/pg/engine.ts';
import { testApp, testDatabase } from './support/database.ts';
import { catalogueChecksum, insertProducts, insertTree, productRow } from './support/fixtures.ts';

type Row = Record<string, unknown>;

const ndjson = (rows: (Row | string)[]) =>
  rows.map((row) => (typeof row === 'string' ? row : JSON.stringify(row))).join('\n') + '\n';

/** Parses `text` fed in pieces cut at `cuts`: the result must not depend on where chunks end. */
async function parseCsv(text: string, cuts: number[] = []): Promise<CsvRecord[]> {
  const reader = new CsvReader(1_000);
  const bytes = Buffer.from(text);
  const records: CsvRecord[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    records.push(...reader.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return [...records, ...(await reader.end())];
}

describe('CSV parser (RFC 4180)', () => {
  const text =
    'a,b,c\r\n' +
    '"quoted, comma","say ""hi""",plain\n' +
    '"two\nlines",,\n' +
    '\n' +
    'bad"quote,x,y\n' +
    '"closed"after,x,y\n' +
    'last,"",end';

  it('reads fields, quotes, line breaks and blank lines, telling an empty field from a quoted empty one, numbering records by their first line', async () => {
    expect(await parseCsv(text)).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['quoted, comma', 'say "hi"', 'plain'] },
      { line: 3, fields: ['two\nlines', undefined, undefined] },
      { line: 6, error: 'a quote inside an unquoted field' },
      { line: 7, error: 'text after the closing quote of a field' },
      { line: 8, fields: ['last', '', 'end'] },
    ]);
  });

  it('gives the same records wherever the chunks are cut', async () => {
    const whole = await parseCsv(text);
    for (let cut = 1; cut < text.length; cut++) expect(await parseCsv(text, [cut]), `cut at ${cut}`).toEqual(whole);
  });

  it('reports a quote never closed and resumes at the next line', async () => {
    expect(await parseCsv('x,"open\ny,z\n')).toEqual([
      { line: 1, error: 'a quoted field is never closed' },
      { line: 2, fields: ['y', 'z'] },
    ]);
  });

  it('ignores a byte order mark before the first record, wherever the chunks cut it', async () => {
    for (const cut of [1, 2, 3, 4]) {
      expect(await parseCsv('\uFEFFsku,name\r\nA,"x\r\ny"\r\nB,z\r\n', [cut]), `cut at ${cut}`).toEqual([
        { line: 1, fields: ['sku', 'name'] },
        { line: 2, fields: ['A', 'x\r\ny'] },
        { line: 4, fields: ['B', 'z'] },
      ]);
    }
  });

  it('skips a record longer than its limit without holding it', async () => {
    const long = `${'x'.repeat(3_000)}\nok\n`;
    expect(await parseCsv(long, [500, 1_500, 2_500])).toEqual([
      { line: 1, error: 'record longer than 1000 bytes' },
      { line: 2, fields: ['ok'] },
    ]);
  });
});

describe('NDJSON lines', () => {
  it('splits on LF and CRLF across chunks, skips overlong lines and flags bad UTF-8', () => {
    const splitter = new LineSplitter(10);
    const lines = [
      ...splitter.push(Buffer.from('one\r\ntw')),
      ...splitter.push(Buffer.from('o\n0123456789abc')),
      ...splitter.push(Buffer.from('def\nthree\n')),
      ...splitter.push(Buffer.from([0xff, 0x0a])),
      ...splitter.push(Buffer.from('last')),
      ...splitter.end(),
    ];
    expect(lines).toEqual([
      { line: 1, text: 'one' },
      { line: 2, text: 'two' },
      { line: 3, error: 'line longer than 10 bytes' },
      { line: 4, text: 'three' },
      { line: 5, error: 'not valid UTF-8' },
      { line: 6, text: 'last' },
    ]);
  });
});

describe('product imports', () => {
  let database: Database;
  let app: App;
  let writer: string;
  let stockOnly: string;

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const product = (sku: string, overrides: Row = {}): Row => ({
    sku,
    slug: sku.toLowerCase(),
    name: `Imported ${sku}`,
    category: 'running',
    price: { amount: 1999, currency: 'EUR' },
    status: 'active',
    ...overrides,
  });
  const post = (
    payload: string,
    { type = 'application/x-ndjson', query = '', headers = auth(writer) as Record<string, string> } = {},
  ) =>
    app.inject({
      method: 'POST',
      url: `/v1/imports/products${query}`,
      headers: { ...headers, 'content-type': type },
      payload,
    });
  const productBySku = async (sku: string) => {
    const { rows } = await database.pool.query(
      'SELECT id, slug, name, description, brand, stock, status, version, images, attributes FROM products WHERE sku = $1',
      [sku],
    );
    return rows[0];
  };
  const ledger = async (sku: string) => {
    const { rows } = await database.pool.query(
      `SELECT m.delta, m.reason, m.stock_after, m.api_key_id FROM stock_movements m JOIN products p ON p.id = m.product_id
        WHERE p.sku = $1 ORDER BY m.id`,
      [sku],
    );
    return rows;
  };

  beforeAll(async () => {
    database = await testDatabase();
    app = await testApp(database);
    await insertTree(database);
    writer = (await app.keys.create('importer', ['catalog:write'])).secret;
    stockOnly = (await app.keys.create('stock', ['stock:write'])).secret;
  });

  describe('happy path', () => {
    it('creates from NDJSON, then updates what changed and leaves the rest untouched', async () => {
      const first = await post(
        ndjson([
          product('N-1', { stock: 5, brand: 'Acme', description: 'First.', attributes: { size: 42 } }),
          product('N-2', { images: [{ url: '/media/n2.svg', alt: 'N 2' }] }),
          product('N-3', { stock: 7 }),
        ]),
      );
      expect(first.statusCode).toBe(200);
      expect(first.json()).toEqual({
        created: 3,
        updated: 0,
        unchanged: 0,
        rejected: 0,
        errors: [],
        errors_truncated: false,
      });
      const shown = (await app.inject('/v1/products/n-1')).json();
      expect(shown).toMatchObject({
        sku: 'N-1',
        name: 'Imported N-1',
        brand: 'Acme',
        stock: 5,
        version: 1,
        category: { slug: 'running' },
        price: { amount: 1999, currency: 'EUR' },
      });
      expect(await ledger('N-1')).toEqual([
        { delta: 5, reason: 'import', stock_after: 5, api_key_id: expect.any(Number) },
      ]);
      expect(await ledger('N-2')).toEqual([]);

      const again = await post(
        ndjson([
          product('N-1', { name: 'Renamed', stock: 5 }), // name changes; description, brand and attributes kept
          product('N-2'), // images left out: kept, so nothing changes
          product('N-3', { stock: 3 }),
        ]),
      );
      expect(again.json()).toMatchObject({ created: 0, updated: 2, unchanged: 1, rejected: 0 });
      expect(await productBySku('N-1')).toMatchObject({
        name: 'Renamed',
        description: 'First.',
        brand: 'Acme',
        attributes: { size: 42 },
        version: 2,
      });
      expect(await productBySku('N-2')).toMatchObject({ version: 1, images: [{ url: '/media/n2.svg', alt: 'N 2' }] });
      expect(await productBySku('N-3')).toMatchObject({ stock: 3, version: 2 });
      expect((await ledger('N-3')).map((m) => [m.delta, m.stock_after])).toEqual([
        [7, 7],
        [-4, 3],
      ]);
    });

    it('imports CSV with quoted fields, JSON cells and empty cells', async () => {
      const csv =
        'sku,slug,name,description,brand,category,price_amount,currency,status,stock,images,attributes\r\n' +
        'C-1,c-1,"Tent, two person","Sleeps ""two"".\nWaterproof.",Acme,hiking,12900,EUR,active,4,"[{""url"":""/media/c1.svg"",""alt"":""Tent""}]","{""weight"":2.5}"\r\n' +
        'C-2,c-2,Mug,,"",kitchen,500,EUR,,,,\r\n';
      const response = await post(csv, { type: 'text/csv; charset=utf-8' });
      expect(response.json()).toMatchObject({ created: 2, rejected: 0 });
      expect(await productBySku('C-1')).toMatchObject({
        name: 'Tent, two person',
        description: 'Sleeps "two".\nWaterproof.',
        brand: 'Acme',
        stock: 4,
        images: [{ url: '/media/c1.svg', alt: 'Tent' }],
        attributes: { weight: 2.5 },
      });
      expect(await productBySku('C-2')).toMatchObject({ description: '', brand: null, status: 'draft', stock: 0 });

      // Only some columns: the others keep their values.
      const update = await post(
        'sku,slug,name,category,price_amount,currency\nC-1,c-1,Tent,hiking,11900,EUR\nC-2,c-2,Mug,kitchen,500,EUR\n',
        {
          type: 'text/csv',
        },
      );
      expect(update.json()).toMatchObject({ created: 0, updated: 1, unchanged: 1, rejected: 0 });
      expect(await productBySku('C-1')).toMatchObject({ name: 'Tent', brand: 'Acme', stock: 4, version: 2 });
      expect(await productBySku('C-2')).toMatchObject({ version: 1 });
    });

    it('commits an atomic import with no rejected row', async () => {
      const response = await post(ndjson([product('A-1'), product('A-2')]), { query: '?atomic=true' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ created: 2, rejected: 0 });
    });
  });

  describe('rejected rows', () => {
    it('rejects malformed NDJSON lines with their line numbers and imports the rows around them', async () => {
      const response = await post(
        ndjson([
          product('M-1'),
          '{"sku": "M-2", "slug": ',
          product('M-3', { price: { amount: '12', currency: 'EUR' } }),
          product('M-4', { category: 'nowhere' }),
          '   ',
          product('M-6'),
          '[1, 2]',
          product('M-8', { colour: 'red', slug: '123' }),
        ]),
      );
      expect(response.statusCode).toBe(200);
      const report = response.json();
      expect(report).toMatchObject({ created: 2, updated: 0, rejected: 5, errors_truncated: false });
      expect(report.errors).toEqual([
        { line: 2, reason: expect.stringMatching(/^not valid JSON/) },
        { line: 3, sku: 'M-3', reason: 'price.amount: must be integer' },
        { line: 4, sku: 'M-4', reason: "category: no category with slug 'nowhere'" },
        { line: 7, reason: 'row: must be object' },
        { line: 8, sku: 'M-8', reason: expect.stringMatching(/colour: is not a known field.*slug: must match/) },
      ]);
      expect(await productBySku('M-1')).toBeDefined();
      expect(await productBySku('M-6')).toBeDefined();
      expect(await productBySku('M-3')).toBeUndefined();
    });

    it('rejects CSV records with a wrong field count or bad quoting, numbering records by their first line', async () => {
      const csv =
        'sku,slug,name,description,category,price_amount,currency,stock\n' +
        'Q-1,q-1,One,,running,100,EUR,1\n' +
        'Q-2,q-2,Two,,running,100\n' +
        'Q-3,q-3,Th"ree,,running,100,EUR,1\n' +
        'Q-4,q-4,Four,"two\nlines",running,100,EUR,1\n' +
        'Q-5,q-5,"Five"x,,running,100,EUR,1\n' +
        'Q-6,q-6,Six,,running,1.5,EUR,1\n' +
        'Q-7,q-7,Seven,,running,100,EUR,\n';
      const report = (await post(csv, { type: 'text/csv' })).json();
      expect(report).toMatchObject({ created: 3, rejected: 4 });
      expect(report.errors).toEqual([
        { line: 3, sku: 'Q-2', reason: 'expected 8 fields, found 6' },
        { line: 4, reason: 'bad CSV: a quote inside an unquoted field' },
        { line: 7, reason: 'bad CSV: text after the closing quote of a field' },
        { line: 8, sku: 'Q-6', reason: 'price_amount: must be an integer' },
      ]);
      expect(await productBySku('Q-4')).toMatchObject({ description: 'two\nlines' });
      expect(await productBySku('Q-7')).toMatchObject({ stock: 0 });
    });

    it('rejects a sku or slug repeated within the import, and a slug of another product', async () => {
      const [existing] = await insertProducts(database, [
        productRow({
          categoryId: (await app.catalogue.categories.tree()).bySlug.get('running')!.id,
          sku: 'OTHER-1',
          slug: 'taken-slug',
          stock: 0,
        }),
      ]);
      expect(existing).toBeDefined();
      const response = await post(
        ndjson([
          product('D-1'),
          product('D-2', { slug: 'taken-slug' }),
          product('D-1', { name: 'again' }),
          product('D-3', { slug: 'd-1' }),
          product('D-4'),
        ]),
      );
      expect(response.json()).toMatchObject({ created: 2, rejected: 3 });
      expect(response.json().errors).toEqual([
        { line: 2, sku: 'D-2', reason: 'slug taken-slug belongs to another product (sku OTHER-1)' },
        { line: 3, sku: 'D-1', reason: 'duplicate of line 1' },
        { line: 4, sku: 'D-3', reason: 'slug d-1 is also on line 1' },
      ]);
      expect(await productBySku('D-1')).toMatchObject({ name: 'Imported D-1' });
    });

    it('finds repeats across batches, in the database', async () => {
      const rows = [product('B-1'), product('B-2'), product('B-3'), product('B-1'), product('B-4', { slug: 'b-2' })];
      const { report } = await importProducts(database.pool, Readable.from([Buffer.from(ndjson(rows))]), {
        format: 'ndjson',
        atomic: false,
        apiKeyId: null,
        categories: () => app.catalogue.categories.tree(),
        batchSize: 2,
      });
      expect(report).toMatchObject({ created: 3, rejected: 2 });
      expect(report.errors).toEqual([
        { line: 4, sku: 'B-1', reason: 'duplicate of line 1' },
        { line: 5, sku: 'B-4', reason: 'slug b-2 is also on line 2' },
      ]);
    });

    it('lists the first 1,000 rejected rows and says the list is cut', async () => {
      const lines = Array.from({ length: 1_500 }, (_, i) => (i === 700 ? JSON.stringify(product('CAP-1')) : '{}'));
      const report = (await post(lines.join('\n'))).json();
      expect(report).toMatchObject({ created: 1, rejected: 1_499, errors_truncated: true });
      expect(report.errors).toHaveLength(1_000);
      expect(report.errors[0]).toEqual({ line: 1, reason: 'sku: is required; slug: is required; name: is required' });
      expect(report.errors.at(-1).line).toBe(1_001);
    });
  });

  describe('refused imports', () => {
    it('refuses, atomic, any body with a broken or repeated row: 422 problem+json, nothing written, ledger included', async () => {
      const ledgerRows = async () =>
        (await database.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM stock_movements')).rows[0]!.n;
      const csvHeader = 'sku,slug,name,category,price_amount,currency,stock\n';
      const bodies: [string, string, string][] = [
        ['broken NDJSON', 'application/x-ndjson', ndjson([product('BAD-1', { stock: 4 }), '{"sku": "BAD-2",'])],
        [
          'a row of the wrong shape',
          'application/x-ndjson',
          ndjson([product('BAD-1', { stock: 4 }), product('BAD-2', { stock: -1 })]),
        ],
        [
          'a sku twice',
          'application/x-ndjson',
          ndjson([product('BAD-1', { stock: 4 }), product('BAD-1', { name: 'again' })]),
        ],
        [
          'broken CSV',
          'text/csv',
          `${csvHeader}BAD-1,bad-1,One,running,100,EUR,4\nBAD-2,"bad-2,Two,running,100,EUR,1\n`,
        ],
        [
          'CSV with a sku twice',
          'text/csv',
          `${csvHeader}BAD-1,bad-1,One,running,100,EUR,4\nBAD-1,bad-1b,Two,running,100,EUR,1\n`,
        ],
      ];
      for (const [label, type, body] of bodies) {
        const before = await catalogueChecksum(database);
        const movements = await ledgerRows();
        const response = await post(body, { type, query: '?atomic=true' });
        expect(response.statusCode, label).toBe(422);
        expect(response.headers['content-type'], label).toMatch(/^application\/problem\+json/);
        expect(response.json().report.rejected, label).toBeGreaterThan(0);
        expect(await catalogueChecksum(database), label).toBe(before);
        expect(await ledgerRows(), label).toBe(movements);
      }
    });

    it('rolls back an atomic import with one bad row: 422 with the report, nothing changed', async () => {
      const before = await catalogueChecksum(database);
      const response = await post(ndjson([product('AT-1'), product('N-1', { name: 'Changed' }), '{oops']), {
        query: '?atomic=true',
      });
      expect(response.statusCode).toBe(422);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({
        status: 422,
        report: { created: 1, updated: 1, rejected: 1, errors: [{ line: 3 }] },
      });
      expect(await catalogueChecksum(database)).toBe(before);
    });

    it('refuses a CSV header with an unknown or a missing column (400), changing nothing', async () => {
      const before = await catalogueChecksum(database);
      for (const csv of [
        'sku,slug,name,category,price_amount,currency,colour\nU-1,u-1,U,running,1,EUR,red\n',
        'sku,slug,name,category,price_amount\nU-1,u-1,U,running,1\n',
        '',
      ]) {
        const response = await post(csv, { type: 'text/csv' });
        expect(response.statusCode, csv).toBe(400);
        expect(response.json().detail).toMatch(/column|header/);
      }
      expect(await catalogueChecksum(database)).toBe(before);
    });

    it('answers 415 to another media type', async () => {
      for (const type of ['application/json', 'text/plain', 'application/xml']) {
        const response = await post('{"sku": "X"}', { type });
        expect(response.statusCode, type).toBe(415);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    });

    it('answers 413 to a body announced larger than the limit, before reading it', async () => {
      const response = await post(ndjson([product('BIG-1')]), {
        headers: { ...auth(writer), 'content-length': String(2 ** 31) },
      });
      expect(response.statusCode).toBe(413);
      expect(response.headers.connection).toBe('close');
      expect(await productBySku('BIG-1')).toBeUndefined();
    });

    it('stops a body that grows past the limit (413); atomic, nothing stays', async () => {
      const before = await catalogueChecksum(database);
      const rows = Array.from({ length: 50 }, (_, i) => product(`LIM-${i}`));
      const attempt = importProducts(
        database.pool,
        limitBytes(Readable.from(ndjson(rows).match(/.{1,100}/gs)!), 2_000),
        {
          format: 'ndjson',
          atomic: true,
          apiKeyId: null,
          categories: () => app.catalogue.categories.tree(),
          batchSize: 5,
        },
      );
      await expect(attempt).rejects.toSatisfy((e) => e instanceof HttpProblem && e.status === 413);
      expect(await catalogueChecksum(database)).toBe(before);
    });
  });

  describe('Idempotency-Key', () => {
    const withKey = (key: string) => ({ ...auth(writer), 'idempotency-key': key });

    it('imports once for parallel retries with one key, and every retry answers the same report', async () => {
      const body = ndjson(Array.from({ length: 300 }, (_, i) => product(`IDEM-${i}`, { stock: 2 })));
      // More retries than the test pool has connections: they must queue, not starve it.
      const answers = await Promise.all(Array.from({ length: 8 }, () => post(body, { headers: withKey('import-1') })));
      for (const answer of answers) expect(answer.statusCode, answer.body).toBe(200);
      expect(new Set(answers.map((a) => a.body)).size).toBe(1);
      expect(answers[0]!.json()).toMatchObject({ created: 300, updated: 0, unchanged: 0, rejected: 0 });
      expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(7);
      const { rows } = await database.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM stock_movements m JOIN products p ON p.id = m.product_id WHERE p.sku LIKE 'IDEM-%'`,
      );
      expect(rows[0]!.n).toBe(300);
    });

    it('refuses the key with another body (422) or another mode, writing nothing', async () => {
      const body = ndjson([product('IDEM-A')]);
      expect((await post(body, { headers: withKey('import-2') })).statusCode).toBe(200);
      for (const [payload, query] of [
        [ndjson([product('IDEM-B')]), ''],
        [body, '?atomic=true'],
      ] as const) {
        const refused = await post(payload, { headers: withKey('import-2'), query });
        expect(refused.statusCode).toBe(422);
        expect(refused.json()).toMatchObject({ status: 422, title: 'Idempotency key reused' });
      }
      expect(await productBySku('IDEM-B')).toBeUndefined();
    });

    it('replays an atomic refusal, and does not keep an answer given before the body was read', async () => {
      // The refusal itself is kept (that is what a replay answers): nothing else may change.
      const before = await catalogueChecksum(database, { except: ['idempotency_keys'] });
      const refusedBody = ndjson([product('IDEM-C'), '{broken']);
      const first = await post(refusedBody, { headers: withKey('import-3'), query: '?atomic=true' });
      const again = await post(refusedBody, { headers: withKey('import-3'), query: '?atomic=true' });
      expect(first.statusCode).toBe(422);
      expect(again.body).toBe(first.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(await catalogueChecksum(database, { except: ['idempotency_keys'] })).toBe(before);

      // A bad CSV header is refused before the body's end: not kept, so the key still works.
      const header = await post('sku,colour\nX,red\n', { type: 'text/csv', headers: withKey('import-4') });
      expect(header.statusCode).toBe(400);
      const retried = await post('sku,colour\nX,red\n', { type: 'text/csv', headers: withKey('import-4') });
      expect(retried.statusCode).toBe(400);
      expect(retried.headers['idempotent-replayed']).toBeUndefined();
    });

    it('imports on a connection whose last import was refused before it began', async () => {
      expect((await post(ndjson([product('REUSE-A')]), { headers: withKey('import-5') })).statusCode).toBe(200);
      // More rounds than the test pool has connections: each refusal left its connection unable to
      // set temp_buffers for the next import.
      for (let i = 0; i < 6; i += 1) {
        const refused = await post(ndjson([product(`REUSE-B${i}`)]), { headers: withKey('import-5') });
        expect(refused.statusCode).toBe(422);
        const next = await post(ndjson([product(`REUSE-C${i}`)]));
        expect(next.statusCode, next.body).toBe(200);
      }
    });

    it('refuses a malformed key (400)', async () => {
      const response = await post(ndjson([product('IDEM-D')]), { headers: withKey('no spaces allowed') });
      expect(response.statusCode).toBe(400);
      expect(await productBySku('IDEM-D')).toBeUndefined();
    });
  });

  describe('concurrent writers', () => {
    it('writes a batch again when another writer creates one of its skus meanwhile: the row updates that product', async () => {
      const categoryId = (await app.catalogue.categories.tree()).bySlug.get('running')!.id;
      // Another writer creates RACE-1 and holds its transaction open.
      const other = await database.pool.connect();
      try {
        await other.query('BEGIN');
        await other.query(
          `INSERT INTO products (sku, slug, name, category_id, price_amount, currency, status, stock)
           VALUES ('RACE-1', 'race-1-other', 'Theirs', $1, 500, 'EUR', 'active', 2)`,
          [categoryId],
        );
        await other.query(
          `INSERT INTO stock_movements (product_id, delta, reason, stock_after)
           SELECT id, 2, 'opening stock', 2 FROM products WHERE sku = 'RACE-1'`,
        );
        // The import does not see it yet: its INSERT waits on the sku's unique index.
        const importing = post(ndjson([product('RACE-0'), product('RACE-1', { name: 'Ours', stock: 9 })]));
        for (let waited = 0; ; waited += 20) {
          const { rows } = await database.pool.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO products%'`,
          );
          if (rows.length > 0) break;
          if (waited > 10_000) throw new Error('the import never waited for the other writer');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await other.query('COMMIT');
        const response = await importing;
        expect(response.statusCode).toBe(200);
        expect(response.json(), response.body).toMatchObject({ created: 1, updated: 1, rejected: 0 });
      } finally {
        other.release();
      }
      expect(await productBySku('RACE-1')).toMatchObject({ name: 'Ours', slug: 'race-1', stock: 9, version: 2 });
      expect((await ledger('RACE-1')).map((m) => m.delta)).toEqual([2, 7]);
    });
  });

  it('imports on a connection that refreshed the search words before', async () => {
    // The concurrent refresh uses temporary tables, after which a session can no longer change its
    // temp_buffers: the import must not need to (the pool's connections open with it set).
    const single = createDatabase(database.url, { poolSize: 1 });
    try {
      const { rows } = await database.pool.query<{ id: number }>(`SELECT id FROM categories WHERE slug = 'running'`);
      await insertProducts(
        database,
        Array.from({ length: 50 }, (_, i) => productRow({ categoryId: rows[0]!.id, sku: `WORDS-SEED-${i}`, stock: 0 })),
      );
      await new PgSearchEngine(single.pool).refreshWords();
      const { report } = await importProducts(single.pool, Readable.from([Buffer.from(ndjson([product('WORDS-1')]))]), {
        format: 'ndjson',
        atomic: false,
        apiKeyId: null,
        categories: () => app.catalogue.categories.tree(),
      });
      expect(report).toMatchObject({ created: 1, rejected: 0 });
    } finally {
      await single.close();
    }
  });

  describe('security', () => {
    it('answers 401 or 403 without the right key, changing nothing', async () => {
      const before = await catalogueChecksum(database);
      for (const [headers, status] of [
        [{}, 401],
        [auth('cat_nope'), 401],
        [auth(stockOnly), 403],
      ] as const) {
        const response = await post(ndjson([product('SEC-1')]), { headers });
        expect(response.statusCode).toBe(status);
      }
      expect(await catalogueChecksum(database)).toBe(before);
    });
  });

  it('keeps the ledger in step: each imported product’s deltas sum to its stock', async () => {
    const { rows } = await database.pool.query(
      `SELECT p.sku, p.stock, coalesce(sum(m.delta), 0)::int AS ledger
         FROM products p LEFT JOIN stock_movements m ON m.product_id = p.id
        WHERE p.sku <> 'OTHER-1' GROUP BY p.id HAVING p.stock <> coalesce(sum(m.delta), 0)`,
    );
    expect(rows).toEqual([]);
  });
});
