import type { NewProductRow } from '../db/schema.ts';

/**
 * The hand-written part of the demo catalogue: departments → categories → leaf categories, the
 * product nouns of each leaf, and what prices and attributes fit each department. Products are
 * only ever filed under leaves.
 */

export type AttributeValue = NonNullable<NewProductRow['attributes']>[string];

/** `random` is uniform in [0, 1); `colors` are the generator's colour names. */
export type AttributeGenerator = (random: () => number, colors: readonly string[]) => AttributeValue;

/** Inclusive bounds in EUR cents. */
export interface PriceRange {
  min: number;
  max: number;
}

export interface Leaf {
  slug: string;
  name: string;
  /** What a product of this leaf is called, e.g. "Trail Runner": the last words of its name. */
  nouns: readonly string[];
  price?: PriceRange;
}

export interface Category {
  slug: string;
  name: string;
  leaves: readonly Leaf[];
  price?: PriceRange;
  /** Added to (or overriding) the department's attributes. */
  attributes?: Readonly<Record<string, AttributeGenerator>>;
}

export interface Department {
  slug: string;
  name: string;
  /** Starts every SKU of the department. */
  skuPrefix: string;
  price: PriceRange;
  attributes: Readonly<Record<string, AttributeGenerator>>;
  categories: readonly Category[];
}

const pickIndex = (random: () => number, length: number) => Math.floor(random() * length);
const oneOf =
  <T extends AttributeValue>(values: readonly T[]): AttributeGenerator =>
  (random) =>
    values[pickIndex(random, values.length)]!;
/** A multiple of `step` in [min, max]. */
const between =
  (min: number, max: number, step = 1): AttributeGenerator =>
  (random) =>
    min + step * pickIndex(random, Math.floor((max - min) / step) + 1);
const chance =
  (probability: number): AttributeGenerator =>
  (random) =>
    random() < probability;
const color: AttributeGenerator = (random, colors) => colors[pickIndex(random, colors.length)]!;

const euros = (min: number, max: number): PriceRange => ({ min: min * 100, max: max * 100 });

const CLOTHING_SIZES = ['XS', 'S', 'M', 'L', 'XL', 'XXL'];

export const DEPARTMENTS: readonly Department[] = [
  {
    slug: 'sports-outdoors',
    name: 'Sports & Outdoors',
    skuPrefix: 'SPO',
    price: euros(8, 450),
    attributes: {
      color,
      material: oneOf(['polyester', 'nylon', 'merino wool', 'recycled polyester', 'aluminium', 'rubber']),
      weightGrams: between(80, 2400, 10),
      waterproof: chance(0.35),
    },
    categories: [
      {
        slug: 'running',
        name: 'Running',
        attributes: { size: oneOf(CLOTHING_SIZES) },
        leaves: [
          {
            slug: 'trail-running-shoes',
            name: 'Trail running shoes',
            nouns: ['Trail Runner', 'Mountain Racer', 'Fell Runner', 'Trail Trainer', 'Ultra Shoe'],
            price: euros(60, 220),
          },
          {
            slug: 'road-running-shoes',
            name: 'Road running shoes',
            nouns: ['Road Runner', 'Tempo Trainer', 'Daily Trainer', 'Racing Flat', 'Marathon Shoe'],
            price: euros(50, 250),
          },
          {
            slug: 'running-apparel',
            name: 'Running apparel',
            nouns: ['Running Tee', 'Running Shorts', 'Running Tights', 'Wind Jacket', 'Running Vest'],
            price: euros(15, 140),
          },
        ],
      },
      {
        slug: 'camping-hiking',
        name: 'Camping & hiking',
        leaves: [
          {
            slug: 'tents',
            name: 'Tents',
            nouns: ['Dome Tent', 'Tunnel Tent', 'Backpacking Tent', 'Family Tent', 'Pop-up Shelter'],
            price: euros(40, 650),
          },
          {
            slug: 'sleeping-bags',
            name: 'Sleeping bags',
            nouns: ['Sleeping Bag', 'Mummy Bag', 'Down Quilt', 'Sleeping Bag Liner'],
          },
          {
            slug: 'hiking-backpacks',
            name: 'Hiking backpacks',
            nouns: ['Daypack', 'Hiking Backpack', 'Trekking Pack', 'Hydration Pack'],
          },
        ],
      },
      {
        slug: 'fitness',
        name: 'Fitness',
        price: euros(6, 180),
        leaves: [
          { slug: 'yoga-mats', name: 'Yoga mats', nouns: ['Yoga Mat', 'Travel Yoga Mat', 'Exercise Mat', 'Yoga Block'] },
          { slug: 'dumbbells', name: 'Dumbbells & weights', nouns: ['Dumbbell', 'Kettlebell', 'Weight Plate', 'Hex Dumbbell'] },
          {
            slug: 'resistance-bands',
            name: 'Resistance bands',
            nouns: ['Resistance Band', 'Loop Band', 'Pull-up Band', 'Band Set'],
            price: euros(6, 45),
          },
        ],
      },
    ],
  },
  {
    slug: 'home-kitchen',
    name: 'Home & Kitchen',
    skuPrefix: 'HOM',
    price: euros(5, 400),
    attributes: {
      color,
      material: oneOf(['stainless steel', 'cast iron', 'ceramic', 'glass', 'bamboo', 'cotton', 'linen']),
      dishwasherSafe: chance(0.6),
    },
    categories: [
      {
        slug: 'cookware',
        name: 'Cookware',
        attributes: { diameterCm: oneOf([16, 20, 24, 28, 32]), inductionReady: chance(0.7) },
        leaves: [
          { slug: 'frying-pans', name: 'Frying pans', nouns: ['Frying Pan', 'Skillet', 'Sauté Pan', 'Wok', 'Crêpe Pan'] },
          { slug: 'saucepans', name: 'Saucepans', nouns: ['Saucepan', 'Milk Pan', 'Stockpot', 'Saucepan Set'] },
          { slug: 'dutch-ovens', name: 'Dutch ovens', nouns: ['Dutch Oven', 'Casserole', 'Cocotte'], price: euros(45, 380) },
        ],
      },
      {
        slug: 'small-appliances',
        name: 'Small appliances',
        price: euros(20, 600),
        attributes: { wattage: between(600, 2400, 100), warrantyYears: oneOf([1, 2, 3]) },
        leaves: [
          {
            slug: 'coffee-machines',
            name: 'Coffee machines',
            nouns: ['Espresso Machine', 'Filter Coffee Maker', 'Bean-to-Cup Machine', 'Pod Machine'],
          },
          { slug: 'kettles', name: 'Kettles', nouns: ['Kettle', 'Travel Kettle', 'Gooseneck Kettle'], price: euros(20, 140) },
          { slug: 'blenders', name: 'Blenders', nouns: ['Blender', 'Stick Blender', 'Smoothie Maker', 'Food Processor'] },
          { slug: 'toasters', name: 'Toasters', nouns: ['Toaster', '4-Slice Toaster', 'Sandwich Toaster'], price: euros(20, 180) },
        ],
      },
      {
        slug: 'bedding',
        name: 'Bedding',
        attributes: { bedSize: oneOf(['single', 'double', 'queen', 'king']), threadCount: oneOf([200, 300, 400, 600]) },
        leaves: [
          { slug: 'duvet-covers', name: 'Duvet covers', nouns: ['Duvet Cover', 'Duvet Set', 'Bedding Set'] },
          { slug: 'pillows', name: 'Pillows', nouns: ['Pillow', 'Memory Foam Pillow', 'Pillowcase Pair'], price: euros(10, 120) },
          { slug: 'bed-sheets', name: 'Bed sheets', nouns: ['Fitted Sheet', 'Flat Sheet', 'Sheet Set'], price: euros(15, 160) },
        ],
      },
    ],
  },
  {
    slug: 'electronics',
    name: 'Electronics',
    skuPrefix: 'ELE',
    price: euros(10, 800),
    attributes: {
      color: oneOf(['black', 'white', 'silver', 'graphite', 'blue', 'rose gold']),
      wireless: chance(0.55),
      warrantyYears: oneOf([1, 2, 3]),
    },
    categories: [
      {
        slug: 'audio',
        name: 'Audio',
        attributes: { batteryHours: between(6, 60, 2), noiseCancelling: chance(0.4) },
        leaves: [
          {
            slug: 'headphones',
            name: 'Headphones',
            nouns: ['Over-Ear Headphones', 'On-Ear Headphones', 'Studio Headphones', 'Gaming Headset'],
            price: euros(25, 450),
          },
          {
            slug: 'earbuds',
            name: 'Earbuds',
            nouns: ['True Wireless Earbuds', 'Sport Earbuds', 'In-Ear Monitors'],
            price: euros(15, 300),
          },
          {
            slug: 'bluetooth-speakers',
            name: 'Bluetooth speakers',
            nouns: ['Portable Speaker', 'Party Speaker', 'Shower Speaker', 'Smart Speaker'],
            price: euros(20, 400),
          },
        ],
      },
      {
        slug: 'computer-accessories',
        name: 'Computer accessories',
        price: euros(10, 250),
        leaves: [
          { slug: 'keyboards', name: 'Keyboards', nouns: ['Mechanical Keyboard', 'Compact Keyboard', 'Ergonomic Keyboard'] },
          { slug: 'mice', name: 'Mice', nouns: ['Wireless Mouse', 'Gaming Mouse', 'Vertical Mouse', 'Travel Mouse'] },
          { slug: 'webcams', name: 'Webcams', nouns: ['Webcam', '4K Webcam', 'Streaming Camera'] },
          { slug: 'usb-hubs', name: 'USB hubs & docks', nouns: ['USB-C Hub', 'Docking Station', 'USB Hub'] },
        ],
      },
      {
        slug: 'phone-accessories',
        name: 'Phone accessories',
        price: euros(8, 120),
        leaves: [
          { slug: 'phone-cases', name: 'Phone cases', nouns: ['Phone Case', 'Wallet Case', 'Rugged Case', 'Clear Case'] },
          {
            slug: 'chargers',
            name: 'Chargers',
            nouns: ['Wall Charger', 'Car Charger', 'Wireless Charging Pad', 'Charging Stand'],
          },
          { slug: 'power-banks', name: 'Power banks', nouns: ['Power Bank', 'Slim Power Bank', 'Solar Power Bank'] },
        ],
      },
      {
        slug: 'smart-home',
        name: 'Smart home',
        price: euros(12, 350),
        leaves: [
          { slug: 'smart-lighting', name: 'Smart lighting', nouns: ['Smart Bulb', 'Light Strip', 'Smart Lamp'] },
          { slug: 'smart-plugs', name: 'Smart plugs', nouns: ['Smart Plug', 'Energy Monitor Plug', 'Outdoor Smart Plug'] },
          {
            slug: 'security-cameras',
            name: 'Security cameras',
            nouns: ['Indoor Camera', 'Outdoor Camera', 'Video Doorbell', 'Baby Monitor'],
          },
        ],
      },
    ],
  },
  {
    slug: 'fashion',
    name: 'Fashion',
    skuPrefix: 'FAS',
    price: euros(12, 300),
    attributes: {
      color,
      size: oneOf(CLOTHING_SIZES),
      material: oneOf(['cotton', 'organic cotton', 'linen', 'wool', 'denim', 'polyester', 'viscose']),
      fit: oneOf(['slim', 'regular', 'relaxed']),
    },
    categories: [
      {
        slug: 'womens-clothing',
        name: "Women's clothing",
        leaves: [
          { slug: 'dresses', name: 'Dresses', nouns: ['Midi Dress', 'Wrap Dress', 'Shirt Dress', 'Maxi Dress'] },
          { slug: 'womens-tops', name: "Women's tops", nouns: ['Blouse', 'T-Shirt', 'Tank Top', 'Tunic'], price: euros(12, 90) },
          { slug: 'womens-knitwear', name: "Women's knitwear", nouns: ['Cardigan', 'Jumper', 'Roll-Neck Sweater'] },
        ],
      },
      {
        slug: 'mens-clothing',
        name: "Men's clothing",
        leaves: [
          { slug: 'mens-shirts', name: "Men's shirts", nouns: ['Oxford Shirt', 'Flannel Shirt', 'Polo Shirt', 'Linen Shirt'] },
          { slug: 'mens-trousers', name: "Men's trousers", nouns: ['Chinos', 'Jeans', 'Cargo Trousers', 'Joggers'] },
          { slug: 'mens-jackets', name: "Men's jackets", nouns: ['Rain Jacket', 'Bomber Jacket', 'Parka', 'Overshirt'] },
        ],
      },
      {
        slug: 'fashion-accessories',
        name: 'Accessories',
        price: euros(10, 220),
        attributes: { size: oneOf(['one size']), material: oneOf(['leather', 'vegan leather', 'canvas', 'wool', 'silk']) },
        leaves: [
          { slug: 'bags', name: 'Bags', nouns: ['Tote Bag', 'Crossbody Bag', 'Backpack', 'Weekender Bag'] },
          { slug: 'belts', name: 'Belts', nouns: ['Leather Belt', 'Woven Belt', 'Reversible Belt'], price: euros(10, 80) },
          { slug: 'scarves-hats', name: 'Scarves & hats', nouns: ['Scarf', 'Beanie', 'Bucket Hat', 'Baseball Cap'] },
        ],
      },
    ],
  },
  {
    slug: 'garden-diy',
    name: 'Garden & DIY',
    skuPrefix: 'GDN',
    price: euros(4, 500),
    attributes: {
      color: oneOf(['green', 'black', 'grey', 'orange', 'yellow', 'blue']),
      weightGrams: between(100, 9000, 50),
      weatherproof: chance(0.5),
    },
    categories: [
      {
        slug: 'power-tools',
        name: 'Power tools',
        price: euros(35, 500),
        attributes: { voltage: oneOf([12, 18, 20, 36]), cordless: chance(0.7) },
        leaves: [
          { slug: 'drills', name: 'Drills & drivers', nouns: ['Combi Drill', 'Impact Driver', 'Hammer Drill', 'Drill Driver'] },
          { slug: 'saws', name: 'Saws', nouns: ['Circular Saw', 'Jigsaw', 'Mitre Saw', 'Reciprocating Saw'] },
          { slug: 'sanders', name: 'Sanders', nouns: ['Orbital Sander', 'Detail Sander', 'Belt Sander'] },
        ],
      },
      {
        slug: 'hand-tools',
        name: 'Hand tools',
        price: euros(4, 120),
        leaves: [
          { slug: 'screwdrivers', name: 'Screwdrivers', nouns: ['Screwdriver Set', 'Precision Screwdriver', 'Ratchet Screwdriver'] },
          { slug: 'hammers', name: 'Hammers', nouns: ['Claw Hammer', 'Rubber Mallet', 'Sledgehammer'] },
          { slug: 'spanners', name: 'Spanners & wrenches', nouns: ['Spanner Set', 'Adjustable Wrench', 'Socket Set'] },
        ],
      },
      {
        slug: 'gardening',
        name: 'Gardening',
        leaves: [
          { slug: 'planters', name: 'Pots & planters', nouns: ['Planter', 'Plant Pot', 'Window Box', 'Raised Bed'], price: euros(5, 180) },
          { slug: 'garden-hoses', name: 'Hoses & watering', nouns: ['Garden Hose', 'Hose Reel', 'Watering Can', 'Spray Gun'] },
          { slug: 'pruning-tools', name: 'Pruning tools', nouns: ['Secateurs', 'Loppers', 'Hedge Shears', 'Pruning Saw'] },
          { slug: 'garden-furniture', name: 'Garden furniture', nouns: ['Garden Chair', 'Bistro Set', 'Parasol', 'Sun Lounger'], price: euros(30, 900) },
        ],
      },
    ],
  },
  {
    slug: 'toys-games',
    name: 'Toys & Games',
    skuPrefix: 'TOY',
    price: euros(5, 200),
    attributes: {
      minimumAge: oneOf([3, 5, 6, 8, 10, 12, 14]),
      batteriesRequired: chance(0.15),
    },
    categories: [
      {
        slug: 'games-puzzles',
        name: 'Games & puzzles',
        price: euros(8, 80),
        attributes: { players: oneOf(['1', '1-4', '2', '2-4', '2-6', '3-8']) },
        leaves: [
          { slug: 'board-games', name: 'Board games', nouns: ['Board Game', 'Strategy Game', 'Family Game', 'Party Game'] },
          { slug: 'card-games', name: 'Card games', nouns: ['Card Game', 'Deck-Building Game', 'Trivia Game'] },
          { slug: 'jigsaw-puzzles', name: 'Jigsaw puzzles', nouns: ['Jigsaw Puzzle', '3D Puzzle', 'Puzzle Set'] },
        ],
      },
      {
        slug: 'building-toys',
        name: 'Building toys',
        attributes: { pieces: between(50, 3000, 10) },
        leaves: [
          { slug: 'construction-sets', name: 'Construction sets', nouns: ['Building Set', 'Brick Set', 'Construction Kit'] },
          { slug: 'marble-runs', name: 'Marble runs', nouns: ['Marble Run', 'Marble Run Extension'], price: euros(15, 120) },
        ],
      },
      {
        slug: 'outdoor-play',
        name: 'Outdoor play',
        leaves: [
          { slug: 'ride-ons', name: 'Scooters & ride-ons', nouns: ['Kick Scooter', 'Balance Bike', 'Ride-On Car'], price: euros(30, 250) },
          { slug: 'garden-games', name: 'Garden games', nouns: ['Giant Jenga', 'Swingball', 'Badminton Set', 'Water Blaster'] },
        ],
      },
    ],
  },
  {
    slug: 'beauty-health',
    name: 'Beauty & Health',
    skuPrefix: 'BEA',
    price: euros(3, 120),
    attributes: { crueltyFree: chance(0.6) },
    categories: [
      {
        slug: 'skincare',
        name: 'Skincare',
        attributes: {
          volumeMl: oneOf([15, 30, 50, 100]),
          vegan: chance(0.45),
          skinType: oneOf(['all', 'dry', 'oily', 'combination', 'sensitive']),
        },
        leaves: [
          { slug: 'moisturisers', name: 'Moisturisers', nouns: ['Day Cream', 'Night Cream', 'Gel Moisturiser', 'Face Balm'] },
          { slug: 'cleansers', name: 'Cleansers', nouns: ['Foaming Cleanser', 'Cleansing Oil', 'Micellar Water'] },
          { slug: 'serums', name: 'Serums', nouns: ['Vitamin C Serum', 'Hyaluronic Serum', 'Retinol Serum', 'Face Oil'] },
        ],
      },
      {
        slug: 'haircare',
        name: 'Haircare',
        attributes: {
          volumeMl: oneOf([100, 200, 250, 500]),
          vegan: chance(0.45),
          hairType: oneOf(['all', 'curly', 'fine', 'coloured', 'dry']),
        },
        leaves: [
          { slug: 'shampoo', name: 'Shampoo', nouns: ['Shampoo', 'Dry Shampoo', 'Shampoo Bar'] },
          { slug: 'conditioner', name: 'Conditioner', nouns: ['Conditioner', 'Leave-In Conditioner', 'Hair Mask'] },
        ],
      },
      {
        slug: 'personal-care-appliances',
        name: 'Personal care appliances',
        price: euros(15, 350),
        attributes: { batteryMinutes: between(30, 120, 10), waterproof: chance(0.5) },
        leaves: [
          { slug: 'electric-toothbrushes', name: 'Electric toothbrushes', nouns: ['Electric Toothbrush', 'Sonic Toothbrush', 'Water Flosser'] },
          { slug: 'shavers', name: 'Shavers & trimmers', nouns: ['Foil Shaver', 'Rotary Shaver', 'Beard Trimmer', 'Body Groomer'] },
          { slug: 'hair-dryers', name: 'Hair dryers & stylers', nouns: ['Hair Dryer', 'Hair Straightener', 'Curling Wand', 'Hot Air Brush'] },
        ],
      },
    ],
  },
];

/** Model-line words that open many product names ("Aero Trail Runner"). */
export const SERIES: readonly string[] = [
  'Aero', 'Nova', 'Terra', 'Summit', 'Pulse', 'Vista', 'Core', 'Flex', 'Apex', 'Zen', 'Orbit', 'Drift',
  'Nordic', 'Urban', 'Classic', 'Studio', 'Atlas', 'Echo', 'Luma', 'Vertex', 'Strata', 'Tundra', 'Coast',
  'Ember', 'Frost', 'Granite', 'Harbor', 'Horizon', 'Ridge', 'Solo', 'Swift', 'Trek', 'Volt', 'Wave',
];

/** Model-line suffixes ("Nova Kettle Pro"). */
export const VARIANTS: readonly string[] = ['Pro', 'Lite', 'Plus', 'Max', 'Mini', 'II', 'XL', 'Sport', 'Essential', 'Edge'];
