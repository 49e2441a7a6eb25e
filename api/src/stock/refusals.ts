import { HttpProblem, type Problem } from '../http/problem.ts';
import type { AdjustResult, SetResult } from './repository.ts';
import { MAX_STOCK, type BatchResult } from './schemas.ts';

/** A stock change that did not apply, as the repository answers it. */
export type Refused = Exclude<AdjustResult | SetResult, { outcome: 'done' }>;

/** What a refusal's texts may quote: the product, and its stock and version as last seen. */
interface Facts {
  productId: number;
  stock: number;
  version: number;
}

interface Refusal {
  /** The answer to a request refused as a whole (RFC 9457 problem). */
  status: 404 | 409 | 412;
  /** The problem type's slug (http/problem.ts problemType). */
  type: string;
  title: string;
  detail: (facts: Facts) => string;
  /** Extension members of the problem (declared in its schema). */
  extensions?: (facts: Facts) => Pick<Problem, 'current_stock' | 'current_version'>;
  /** An item of a batch refused on its own: its status in the results and its detail in `errors`. */
  item?: { status: Exclude<BatchResult['results'][number]['status'], 'applied'>; detail: (facts: Facts) => string };
}

/**
 * Every way a stock change is refused, in one table: the single adjustment, the batch (its items,
 * and its atomic refusal) and the absolute level (PUT) all answer from it.
 */
export const REFUSALS: Record<Refused['outcome'], Refusal> = {
  'not-found': {
    status: 404,
    type: 'not-found',
    title: 'Not found',
    detail: ({ productId }) => `No product ${productId}`,
    item: { status: 'not_found', detail: () => 'no such product' },
  },
  insufficient: {
    status: 409,
    type: 'insufficient-stock',
    title: 'Insufficient stock',
    detail: ({ stock }) => `Only ${stock} in stock.`,
    extensions: ({ stock }) => ({ current_stock: stock }),
    item: { status: 'insufficient_stock', detail: ({ stock }) => `insufficient stock: ${stock} in stock` },
  },
  over: {
    status: 409,
    type: 'stock-limit',
    title: 'Stock limit',
    detail: ({ stock }) => `The stock cannot go above ${MAX_STOCK}: ${stock} in stock.`,
    extensions: ({ stock }) => ({ current_stock: stock }),
    item: { status: 'stock_limit', detail: ({ stock }) => `the stock would go above ${MAX_STOCK}: ${stock} in stock` },
  },
  stale: {
    status: 412,
    type: 'precondition-failed',
    title: 'Precondition failed',
    detail: ({ stock, version }) => `The stock changed since it was read: it is now ${stock} (version ${version}).`,
    extensions: ({ stock, version }) => ({ current_stock: stock, current_version: version }),
  },
};

/** The facts of a refusal; a product that does not exist has no stock (0 in a batch's results). */
export const factsOf = (refused: Refused, productId: number): Facts => ({
  productId,
  stock: 'stock' in refused ? refused.stock : 0,
  version: 'version' in refused ? refused.version : 0,
});

/** The problem answering a request refused as a whole. */
export function refusal(refused: Refused, productId: number): HttpProblem {
  const { status, type, title, detail, extensions } = REFUSALS[refused.outcome];
  const facts = factsOf(refused, productId);
  return new HttpProblem(status, type, title, detail(facts), undefined, extensions?.(facts) ?? {});
}
