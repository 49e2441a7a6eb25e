import { Type, type Static } from 'typebox';

export const MAX_STOCK = 1_000_000_000;

const Reason = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[^\\u0000-\\u001f\\u007f]*$',
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

export type StockMovement = Static<typeof StockMovement>;
export type StockChange = Static<typeof StockChange>;
