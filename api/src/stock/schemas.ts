import { Type, type Static } from 'typebox';
import { MAX_STOCK } from '../db/schema.ts';

export { MAX_STOCK };

const Reason = Type.String({
  minLength: 1,
  maxLength: 200,
  // No control characters, nor lone surrogates (not Unicode: JSON can write them, PostgreSQL refuses them).
  pattern: '^[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]*$',
  description: 'Why the stock changed (a sale, a delivery, a stock take).',
});

export const ProductIdParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'The product id.' }),
});

export const StockAdjustmentBody = Type.Object(
  {
    delta: Type.Integer({
      minimum: -MAX_STOCK,
      maximum: MAX_STOCK,
      not: { const: 0 },
      description: 'Units to add (positive) or take away (negative). Stock never goes below zero.',
    }),
    reason: Reason,
  },
  { additionalProperties: false },
);

export const SetStockBody = Type.Object(
  {
    stock: Type.Integer({ minimum: 0, maximum: MAX_STOCK, description: 'The new absolute stock.' }),
    expected: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_STOCK,
        description: 'The stock the client last saw; refused with 412 if it changed since (or send If-Match).',
      }),
    ),
    reason: Reason,
  },
  { additionalProperties: false },
);

export const StockMovement = Type.Object(
  {
    id: Type.Integer(),
    delta: Type.Integer(),
    reason: Type.String(),
    stock_after: Type.Integer({ minimum: 0 }),
    api_key: Type.Union([Type.Object({ id: Type.Integer(), name: Type.String(), prefix: Type.String() }), Type.Null()]),
    idempotency_key: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'StockMovement' },
);

export const StockChange = Type.Object(
  {
    product_id: Type.Integer(),
    stock: Type.Integer({ minimum: 0 }),
    version: Type.Integer({ minimum: 1 }),
    movement: Type.Union([StockMovement, Type.Null()], {
      description: 'Null when the stock was already at that level.',
    }),
  },
  { title: 'StockChange' },
);

export const MovementsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 3, maxLength: 512, pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
);

export const MovementPage = Type.Object(
  {
    data: Type.Array(StockMovement, { description: 'Newest first.' }),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'MovementPage' },
);

export const StockLevelsQuery = Type.Object(
  {
    id: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
        maxItems: 100,
        description: 'Product ids (repeatable).',
      }),
    ),
    sku: Type.Optional(
      // No control characters: no SKU holds one, and PostgreSQL text cannot even hold NUL.
      Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }), {
        maxItems: 100,
        description: 'SKUs (repeatable).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const StockLevel = Type.Object(
  {
    id: Type.Integer(),
    sku: Type.String(),
    slug: Type.String(),
    name: Type.String(),
    brand: Type.Union([Type.String(), Type.Null()]),
    status: Type.Enum(['draft', 'active', 'archived']),
    stock: Type.Integer({ minimum: 0 }),
    version: Type.Integer({ minimum: 1, description: 'For `If-Match` on PUT /v1/products/{id}/stock.' }),
  },
  { title: 'StockLevel' },
);

export type StockMovement = Static<typeof StockMovement>;
export type StockChange = Static<typeof StockChange>;
export type StockLevel = Static<typeof StockLevel>;

export const MAX_BATCH = 1_000;

export const BatchAdjustmentBody = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          product_id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
          delta: StockAdjustmentBody.properties.delta,
          reason: Reason,
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_BATCH },
    ),
    atomic: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'All or nothing: if any item cannot apply, none does (409). Otherwise each applies on its own.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const BatchResult = Type.Object(
  {
    applied: Type.Integer({ minimum: 0 }),
    refused: Type.Integer({ minimum: 0 }),
    results: Type.Array(
      Type.Object({
        index: Type.Integer({ minimum: 0, description: 'The item’s position in the request.' }),
        product_id: Type.Integer(),
        status: Type.Enum(['applied', 'insufficient_stock', 'stock_limit', 'not_found'], {
          description: '`stock_limit`: the stock would go above 1,000,000,000.',
        }),
        stock: Type.Integer({ minimum: 0, description: 'The stock after the item (applied), or now (refused).' }),
        movement_id: Type.Union([Type.Integer(), Type.Null()]),
      }),
      { description: 'One per item, in request order.' },
    ),
  },
  { title: 'BatchResult' },
);

export type BatchAdjustmentBody = Static<typeof BatchAdjustmentBody>;
export type BatchResult = Static<typeof BatchResult>;
