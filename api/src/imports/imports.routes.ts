import type { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { Type } from 'typebox';
import { HttpProblem, PROBLEM_CONTENT_TYPE, toProblem } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';
import { idempotencyKey, sendAnswer } from '../http/idempotency.ts';
import { importOnce, OneAtATime, type ImportAnswer } from './idempotent.ts';
import { importOn, limitBytes, tooLarge, withConnection } from './importer.ts';
import { ImportRefused, ImportReport, MAX_LISTED_ERRORS } from './report.ts';
import { CSV_COLUMNS, type ImportFormat } from './rows.ts';

/** Default largest import body: 1 GiB (a few million products). */
export const DEFAULT_IMPORT_MAX_BYTES = 1_073_741_824;

export interface ImportRoutesOptions {
  pool: pg.Pool;
  /** Largest import body in bytes (IMPORT_MAX_BYTES); larger is a 413. */
  maxBytes?: number;
}

const MEDIA_TYPES: Record<string, ImportFormat> = { 'application/x-ndjson': 'ndjson', 'text/csv': 'csv' };

const unsupported = () =>
  new HttpProblem(
    415,
    'unsupported-media-type',
    'Unsupported media type',
    'Send the products as application/x-ndjson (one JSON object per line) or text/csv (with a header row).',
  );

const ImportQuery = Type.Object(
  {
    atomic: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'All or nothing: if any row is rejected, nothing is written and the answer is a 422.',
      }),
    ),
  },
  { additionalProperties: false },
);

/** The body is read by the handler as a stream; these schemas only document it. */
const ImportBody = {
  content: {
    'application/x-ndjson': {
      schema: Type.String({
        description:
          'One product per line, a JSON object shaped like the body of `POST /v1/products` (`ProductCreate`). Blank lines are skipped.',
      }),
    },
    'text/csv': {
      schema: Type.String({
        description: `RFC 4180 CSV with a header row naming some of the columns ${CSV_COLUMNS.join(', ')} (sku, slug, name, category, price_amount and currency are required). An empty cell leaves the field out; \`images\` and \`attributes\` cells hold JSON.`,
      }),
    },
  },
};

/** The import route's schema; the body's largest size is configured. */
const importSchema = (maxBytes: number) => ({
  operationId: 'importProducts',
  tags: ['catalogue'],
  summary: 'Create or update many products from NDJSON or CSV',
  description: `Upserts products by \`sku\`, streaming: the body may be up to ${maxBytes} bytes and is written in batches as it arrives. A product that exists takes the row's fields (those the row leaves out keep their value; an unchanged product keeps its version); a new one is created (default status \`draft\`). Stock is the absolute level: the change is written to the stock ledger. A row that is not a valid product, names an unknown category, repeats an earlier row's sku or slug, or takes another product's slug is rejected with its line and reason, and the rows around it are imported. The answer counts rows created, updated, unchanged and rejected, and lists the first ${MAX_LISTED_ERRORS} rejected rows. With \`atomic=true\`, one rejected row rolls everything back (422 with the report).`,
  headers: Type.Object({
    'idempotency-key': Type.Optional(
      Type.String({
        description:
          'Makes a retry answer the same and change nothing more: the report (or the atomic 422) is kept with the body’s SHA-256 for at least 24 hours; the same key with another body is a 422.',
      }),
    ),
  }),
  querystring: ImportQuery,
  body: ImportBody,
  response: {
    200: ImportReport,
    ...problemResponses(400, 401, 403, 413, 415),
    422: {
      description:
        'Atomic import refused: at least one row was rejected, and nothing was written (the problem carries the report). Or an Idempotency-Key reused with another body.',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: ImportRefused } },
    },
  },
});

/** Runs one import on a connection: its report (200), or the atomic refusal (422). */
async function runImport(
  app: FastifyInstance,
  request: FastifyRequest,
  client: pg.PoolClient,
  stream: AsyncIterable<Buffer>,
  { format, atomic }: { format: ImportFormat; atomic: boolean },
): Promise<ImportAnswer> {
  let result;
  try {
    result = await importOn(client, stream, {
      format,
      atomic,
      apiKeyId: request.apiKey!.id,
      // The primary's: a replica a moment behind could miss a category just created.
      categories: () => app.catalogue.primary.categories.tree(),
      onBatchError: (error) => request.log.warn({ err: error }, 'import batch rejected'),
    });
  } catch (error) {
    app.metrics.imported('failed');
    // The client went away mid-body: nobody is left to answer, and it is not a server fault.
    if (request.raw.destroyed && !(error instanceof HttpProblem)) {
      throw new HttpProblem(400, 'body-incomplete', 'Body incomplete', 'The request body ended before its end.');
    }
    throw error;
  }
  const { report } = result;
  // Counted here, where the import ran: a replay never gets here.
  app.metrics.imported(
    result.committed ? 'completed' : 'refused',
    result.committed ? report : { rejected: report.rejected },
  );
  if (result.committed) return { status: 200, body: report };
  const detail = `${report.rejected} rows were rejected; nothing was written.`;
  const problem = toProblem(new HttpProblem(422, 'import-rejected', 'Import rejected', detail), request);
  return { status: 422, body: { ...problem, report } };
}

/**
 * Bulk upsert of products by sku from an NDJSON or CSV body of any size (API key with
 * `catalog:write`). The body is never buffered: a content-type parser hands the request stream
 * to the handler, which parses and writes it batch by batch (see importer.ts).
 */
export const importRoutes: FastifyPluginAsyncTypebox<ImportRoutesOptions> = async (
  app,
  { pool, maxBytes = DEFAULT_IMPORT_MAX_BYTES },
) => {
  const sameKey = new OneAtATime();
  const bodies = new WeakMap<FastifyRequest, { stream: Readable; format: ImportFormat }>();

  // Only this plugin's route sees these parsers (encapsulation): the rest of the API keeps the
  // JSON parser and its body limit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(Object.keys(MEDIA_TYPES), (request, payload, done) => {
    bodies.set(request, { stream: payload, format: MEDIA_TYPES[request.mediaType ?? ''] ?? 'ndjson' });
    // A placeholder that the documenting body schema accepts; the handler reads the stream.
    done(null, '');
  });
  app.addContentTypeParser('*', (_request, _payload, done) => done(unsupported()));

  // An answer given before the body was read to its end (refused early, or too large) closes the
  // connection: otherwise Node would read, and throw away, up to a gigabyte to keep it alive.
  app.addHook('onSend', async (request, reply) => {
    const body = bodies.get(request);
    const announced =
      request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length']) > 0;
    if (body ? !body.stream.readableEnded : announced) reply.header('connection', 'close');
  });

  app.post(
    '/v1/imports/products',
    {
      // Checked before the body is parsed: a client without the right key sends nothing more.
      onRequest: app.requireScope('catalog:write'),
      schema: importSchema(maxBytes),
    },
    async (request, reply) => {
      const body = bodies.get(request);
      if (!body) throw unsupported();
      if (Number(request.headers['content-length']) > maxBytes) throw tooLarge(maxBytes);
      const key = idempotencyKey(request);
      const atomic = request.query.atomic ?? false;
      const run = (client: pg.PoolClient, stream: AsyncIterable<Buffer>) =>
        runImport(app, request, client, stream, { format: body.format, atomic });
      const source = limitBytes(body.stream, maxBytes);
      const fingerprint = `POST /v1/imports/products ${body.format} atomic=${atomic}`;
      const apiKeyId = request.apiKey!.id;
      const answer =
        key === undefined
          ? await withConnection(pool, async (client) => ({ ...(await run(client, source)), replayed: false }))
          : await sameKey.run(`${apiKeyId} ${key}`, () =>
              withConnection(pool, (client) =>
                importOnce(client, apiKeyId, key, fingerprint, source, (stream) => run(client, stream)),
              ),
            );
      // The report (200) or the atomic refusal (422): every other refusal is a thrown problem.
      return sendAnswer(reply, answer);
    },
  );
};
