import { Faker, base, en } from '@faker-js/faker';
import type { categories, NewProductRow } from '../db/schema.ts';
import { DEPARTMENTS, SERIES, VARIANTS, type AttributeGenerator, type PriceRange } from './taxonomy.ts';

/**
 * The demo catalogue, generated deterministically: a seed and a count always give the same rows,
 * whatever the machine or the clock (for a given @faker-js/faker version: its word lists are the
 * vocabulary). Faker runs only once per generation, to draw the vocabulary; each product is then
 * combined from it by a small seeded PRNG, which is what makes a million products take seconds.
 * Products do not depend on the count: the first n products of any larger run are the same n.
 */

export const DEFAULT_SEED = 20261126;

/** Creation dates fall in the two years before this instant, never relative to "now". */
export const REFERENCE_DATE = new Date('2026-11-01T00:00:00.000Z');
const CREATION_SPAN_MS = 2 * 365 * 24 * 60 * 60 * 1000;

type CategoryInsert = typeof categories.$inferInsert;

export type SeedCategory = Required<Pick<CategoryInsert, 'slug' | 'name' | 'position'>> & {
  parentSlug: string | null;
};

export type SeedProduct = Required<
  Pick<
    NewProductRow,
    | 'sku'
    | 'slug'
    | 'name'
    | 'description'
    | 'brand'
    | 'priceAmount'
    | 'currency'
    | 'images'
    | 'attributes'
    | 'status'
    | 'stock'
    | 'createdAt'
  >
> & { categorySlug: string };

/** The category tree, every parent before its children. */
export function generateCategories(): SeedCategory[] {
  return DEPARTMENTS.flatMap((department, i) => [
    { slug: department.slug, name: department.name, parentSlug: null, position: i },
    ...department.categories.flatMap((category, j) => [
      { slug: category.slug, name: category.name, parentSlug: department.slug, position: j },
      ...category.leaves.map((leaf, k) => ({
        slug: leaf.slug,
        name: leaf.name,
        parentSlug: category.slug,
        position: k,
      })),
    ]),
  ]);
}

/** mulberry32: tiny and fast; its 2^32 period is far beyond the ~30 draws × 10M products we ask of it. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOUN = '{noun}';

interface Vocabulary {
  brands: string[];
  colors: string[];
  adjectives: string[];
  /** Sentences with a NOUN placeholder for the product's noun. */
  descriptions: string[];
}

/** Faker's words that would be absurd on these products (food, fake specs, random corporate jargon). */
const UNFIT_ADJECTIVES = new Set(['Fresh', 'Frozen', 'Tasty', 'Generic', 'Unbranded', 'Licensed', 'Oriental', 'Small']);
const UNFIT_DESCRIPTION = /ingredients|culinary|taste|pets|RAM|LED|chemical_element|catchPhrase|company\.name/;

function buildVocabulary(seed: number): Vocabulary {
  const faker = new Faker({ locale: [en, base], seed });
  const brands = faker.helpers.uniqueArray(() => /^[A-Z][a-z]{2,}/.exec(faker.company.name())?.[0] ?? 'Acme', 120);
  const colors = faker.helpers.uniqueArray(() => faker.color.human(), 40);
  const adjectives = faker.definitions.commerce.product_name.adjective.filter((word) => !UNFIT_ADJECTIVES.has(word));
  const templates = faker.definitions.commerce.product_description.filter(
    (template) => !UNFIT_DESCRIPTION.test(template),
  );
  const descriptions = Array.from({ length: 500 }, () =>
    faker.helpers.fake(
      faker.helpers
        .arrayElement(templates)
        .replaceAll('{{commerce.product}}', NOUN)
        // Our filtered adjectives: faker's general ones ("bruised support") read even worse.
        .replaceAll('{{commerce.productAdjective}}', () => faker.helpers.arrayElement(adjectives))
        .replaceAll('{{word.adjective}}', () => faker.helpers.arrayElement(adjectives).toLowerCase()),
    ),
  );
  return { brands, colors, adjectives, descriptions };
}

/** What products of one leaf category are made of: the taxonomy, flattened. */
interface LeafProfile {
  slug: string;
  nouns: readonly string[];
  skuPrefix: string;
  price: PriceRange;
  attributes: [string, AttributeGenerator][];
}

function leafProfiles(): LeafProfile[] {
  return DEPARTMENTS.flatMap((department) =>
    department.categories.flatMap((category) =>
      category.leaves.map((leaf) => ({
        slug: leaf.slug,
        nouns: leaf.nouns,
        skuPrefix: department.skuPrefix,
        price: leaf.price ?? category.price ?? department.price,
        attributes: Object.entries({ ...department.attributes, ...category.attributes }),
      })),
    ),
  );
}

/**
 * Cumulative Zipf-like weights over the leaves in a seeded order: some categories hold over ten
 * times as many products as others, as in a real shop (and as paginated listings need testing).
 */
function leafPicker(leaves: LeafProfile[], random: () => number): (draw: number) => LeafProfile {
  const order = leaves.map((leaf) => ({ leaf, key: random() })).sort((a, b) => a.key - b.key);
  const cumulative: number[] = [];
  let total = 0;
  order.forEach((_, rank) => cumulative.push((total += 1 / (rank + 1) ** 0.7)));
  return (draw) => {
    const target = draw * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (cumulative[middle]! > target) high = middle;
      else low = middle + 1;
    }
    return order[low]!.leaf;
  };
}

/**
 * Log-uniform in the range (cheap items are commoner), then rounded the way shops price: whole
 * euros (or fives, tens above €50/€200) ending in .99, .00 or, below €50, .50. This makes many
 * products share a price, which the price sort's tie-breaking needs.
 */
function shopPrice(range: PriceRange, random: () => number): number {
  const euros = Math.exp(Math.log(range.min) + random() * (Math.log(range.max) - Math.log(range.min))) / 100;
  const step = euros < 50 ? 1 : euros < 200 ? 5 : 10;
  const whole = Math.max(step, Math.round(euros / step) * step) * 100;
  const ending = random();
  if (ending < 0.6) return whole - 1;
  if (ending < 0.85 || euros >= 50) return whole;
  return whole - 50;
}

function slugify(text: string, maxLength: number): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, maxLength)
    .replace(/^-+|-+$/g, '');
}

export interface GenerateProductsOptions {
  count: number;
  seed?: number;
}

export function* generateProducts(options: GenerateProductsOptions): Generator<SeedProduct> {
  const { count, seed = DEFAULT_SEED } = options;
  if (!Number.isSafeInteger(count) || count < 0 || count >= 2 ** 32 - 1) {
    throw new RangeError(`count must be an integer from 0 to 2^32 - 2, got ${count}`);
  }
  const { brands, colors, adjectives, descriptions } = buildVocabulary(seed);
  const random = mulberry32(seed);
  const pickLeaf = leafPicker(leafProfiles(), random);
  const skuMask = Math.floor(random() * 2 ** 32);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;

  for (let index = 0; index < count; index++) {
    const leaf = pickLeaf(random());
    const noun = pick(leaf.nouns);
    const name = productName(noun, random, pick, adjectives);
    const brand = random() < 0.02 ? null : pick(brands);
    // XOR with a mask and multiplication by an odd constant are both bijections on 32-bit
    // integers, so codes are unique by construction yet do not give away the insertion order.
    const code = (Math.imul((index + 1) ^ skuMask, 0x9e3779b1) >>> 0).toString(36).padStart(7, '0');
    const imageCount = 1 + Math.floor(random() * 3);
    const statusDraw = random();
    const stockDraw = random();

    yield {
      sku: `${leaf.skuPrefix}-${code.toUpperCase()}`,
      slug: `${slugify(`${brand ?? ''} ${name}`, 100)}-${code}`,
      name,
      description: description(noun, random, pick, descriptions),
      brand,
      categorySlug: leaf.slug,
      priceAmount: shopPrice(leaf.price, random),
      currency: 'EUR',
      images: Array.from({ length: imageCount }, (_, i) => ({
        url: `/media/placeholder/${leaf.skuPrefix.toLowerCase()}-${code}-${i + 1}.svg`,
        alt: i === 0 ? name : `${name}, view ${i + 1}`,
      })),
      attributes: Object.fromEntries(leaf.attributes.map(([key, generate]) => [key, generate(random, colors)])),
      status: statusDraw < 0.95 ? 'active' : statusDraw < 0.98 ? 'draft' : 'archived',
      // Mostly low stock, ~8% sold out.
      stock: stockDraw < 0.08 ? 0 : 1 + Math.floor(500 * random() ** 3),
      createdAt: new Date(REFERENCE_DATE.getTime() - 1 - Math.floor(random() * CREATION_SPAN_MS)),
    };
  }
}

type Picker = <T>(values: readonly T[]) => T;

/** Few enough patterns and words that identical names are common, as in a real catalogue. */
function productName(noun: string, random: () => number, pick: Picker, adjectives: readonly string[]): string {
  const pattern = random();
  if (pattern < 0.35) return `${pick(SERIES)} ${noun}`;
  if (pattern < 0.7) return `${pick(adjectives)} ${noun}`;
  if (pattern < 0.9) return `${pick(SERIES)} ${pick(adjectives)} ${noun}`;
  return `${pick(SERIES)} ${noun} ${pick(VARIANTS)}`;
}

function description(noun: string, random: () => number, pick: Picker, sentences: readonly string[]): string {
  const first = `${pick(sentences).replace(NOUN, noun)}.`;
  return random() < 0.4 ? `${first} ${pick(sentences).replace(NOUN, noun)}.` : first;
}
