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

type Attributes = Readonly<Record<string, AttributeGenerator>>;

export interface Category {
  slug: string;
  name: string;
  leaves: readonly Leaf[];
  price?: PriceRange;
  /** Added to (or overriding) the department's attributes. */
  attributes?: Attributes;
}

export interface Department {
  slug: string;
  name: string;
  /** Starts every SKU of the department. */
  skuPrefix: string;
  price: PriceRange;
  attributes: Attributes;
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
const leaf = (slug: string, name: string, nouns: string, price?: PriceRange): Leaf => ({
  slug,
  name,
  nouns: nouns.split(', '),
  price,
});

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
          leaf(
            'trail-running-shoes',
            'Trail running shoes',
            'Trail Runner, Mountain Racer, Fell Runner, Ultra Shoe',
            euros(60, 220),
          ),
          leaf(
            'road-running-shoes',
            'Road running shoes',
            'Road Runner, Tempo Trainer, Racing Flat, Marathon Shoe',
            euros(50, 250),
          ),
          leaf(
            'running-apparel',
            'Running apparel',
            'Running Tee, Running Shorts, Running Tights, Wind Jacket',
            euros(15, 140),
          ),
        ],
      },
      {
        slug: 'camping-hiking',
        name: 'Camping & hiking',
        leaves: [
          leaf(
            'tents',
            'Tents',
            'Dome Tent, Tunnel Tent, Backpacking Tent, Family Tent, Pop-up Shelter',
            euros(40, 650),
          ),
          leaf('sleeping-bags', 'Sleeping bags', 'Sleeping Bag, Mummy Bag, Down Quilt, Sleeping Bag Liner'),
          leaf('hiking-backpacks', 'Hiking backpacks', 'Daypack, Hiking Backpack, Trekking Pack, Hydration Pack'),
        ],
      },
      {
        slug: 'fitness',
        name: 'Fitness',
        price: euros(6, 180),
        leaves: [
          leaf('yoga-mats', 'Yoga mats', 'Yoga Mat, Travel Yoga Mat, Exercise Mat, Yoga Block'),
          leaf('dumbbells', 'Dumbbells & weights', 'Dumbbell, Kettlebell, Weight Plate, Hex Dumbbell'),
          leaf(
            'resistance-bands',
            'Resistance bands',
            'Resistance Band, Loop Band, Pull-up Band, Band Set',
            euros(6, 45),
          ),
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
          leaf('frying-pans', 'Frying pans', 'Frying Pan, Skillet, Sauté Pan, Wok, Crêpe Pan'),
          leaf('saucepans', 'Saucepans', 'Saucepan, Milk Pan, Stockpot, Saucepan Set'),
          leaf('dutch-ovens', 'Dutch ovens', 'Dutch Oven, Casserole, Cocotte', euros(45, 380)),
        ],
      },
      {
        slug: 'small-appliances',
        name: 'Small appliances',
        price: euros(20, 600),
        attributes: { wattage: between(600, 2400, 100), warrantyYears: oneOf([1, 2, 3]) },
        leaves: [
          leaf('coffee-machines', 'Coffee machines', 'Espresso Machine, Filter Coffee Maker, Bean-to-Cup Machine'),
          leaf('kettles', 'Kettles', 'Kettle, Travel Kettle, Gooseneck Kettle', euros(20, 140)),
          leaf('blenders', 'Blenders', 'Blender, Stick Blender, Smoothie Maker, Food Processor'),
          leaf('toasters', 'Toasters', 'Toaster, 4-Slice Toaster, Sandwich Toaster', euros(20, 180)),
        ],
      },
      {
        slug: 'bedding',
        name: 'Bedding',
        attributes: { bedSize: oneOf(['single', 'double', 'queen', 'king']), threadCount: oneOf([200, 300, 400, 600]) },
        leaves: [
          leaf('duvet-covers', 'Duvet covers', 'Duvet Cover, Duvet Set, Bedding Set'),
          leaf('pillows', 'Pillows', 'Pillow, Memory Foam Pillow, Pillowcase Pair', euros(10, 120)),
          leaf('bed-sheets', 'Bed sheets', 'Fitted Sheet, Flat Sheet, Sheet Set', euros(15, 160)),
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
          leaf('headphones', 'Headphones', 'Over-Ear Headphones, On-Ear Headphones, Gaming Headset', euros(25, 450)),
          leaf('earbuds', 'Earbuds', 'True Wireless Earbuds, Sport Earbuds, In-Ear Monitors', euros(15, 300)),
          leaf(
            'bluetooth-speakers',
            'Bluetooth speakers',
            'Portable Speaker, Party Speaker, Smart Speaker',
            euros(20, 400),
          ),
        ],
      },
      {
        slug: 'computer-accessories',
        name: 'Computer accessories',
        price: euros(10, 250),
        leaves: [
          leaf('keyboards', 'Keyboards', 'Mechanical Keyboard, Compact Keyboard, Ergonomic Keyboard'),
          leaf('mice', 'Mice', 'Wireless Mouse, Gaming Mouse, Vertical Mouse, Travel Mouse'),
          leaf('webcams', 'Webcams', 'Webcam, 4K Webcam, Streaming Camera'),
          leaf('usb-hubs', 'USB hubs & docks', 'USB-C Hub, Docking Station, USB Hub'),
        ],
      },
      {
        slug: 'phone-accessories',
        name: 'Phone accessories',
        price: euros(8, 120),
        leaves: [
          leaf('phone-cases', 'Phone cases', 'Phone Case, Wallet Case, Rugged Case, Clear Case'),
          leaf('chargers', 'Chargers', 'Wall Charger, Car Charger, Wireless Charging Pad, Charging Stand'),
          leaf('power-banks', 'Power banks', 'Power Bank, Slim Power Bank, Solar Power Bank'),
        ],
      },
      {
        slug: 'smart-home',
        name: 'Smart home',
        price: euros(12, 350),
        leaves: [
          leaf('smart-lighting', 'Smart lighting', 'Smart Bulb, Light Strip, Smart Lamp'),
          leaf('smart-plugs', 'Smart plugs', 'Smart Plug, Energy Monitor Plug, Outdoor Smart Plug'),
          leaf('security-cameras', 'Security cameras', 'Indoor Camera, Outdoor Camera, Video Doorbell, Baby Monitor'),
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
          leaf('dresses', 'Dresses', 'Midi Dress, Wrap Dress, Shirt Dress, Maxi Dress'),
          leaf('womens-tops', "Women's tops", 'Blouse, T-Shirt, Tank Top, Tunic', euros(12, 90)),
          leaf('womens-knitwear', "Women's knitwear", 'Cardigan, Jumper, Roll-Neck Sweater'),
        ],
      },
      {
        slug: 'mens-clothing',
        name: "Men's clothing",
        leaves: [
          leaf('mens-shirts', "Men's shirts", 'Oxford Shirt, Flannel Shirt, Polo Shirt, Linen Shirt'),
          leaf('mens-trousers', "Men's trousers", 'Chinos, Jeans, Cargo Trousers, Joggers'),
          leaf('mens-jackets', "Men's jackets", 'Rain Jacket, Bomber Jacket, Parka, Overshirt'),
        ],
      },
      {
        slug: 'fashion-accessories',
        name: 'Accessories',
        price: euros(10, 220),
        attributes: {
          size: oneOf(['one size']),
          material: oneOf(['leather', 'vegan leather', 'canvas', 'wool', 'silk']),
        },
        leaves: [
          leaf('bags', 'Bags', 'Tote Bag, Crossbody Bag, Backpack, Weekender Bag'),
          leaf('belts', 'Belts', 'Leather Belt, Woven Belt, Reversible Belt', euros(10, 80)),
          leaf('scarves-hats', 'Scarves & hats', 'Scarf, Beanie, Bucket Hat, Baseball Cap'),
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
          leaf('drills', 'Drills & drivers', 'Combi Drill, Impact Driver, Hammer Drill, Drill Driver'),
          leaf('saws', 'Saws', 'Circular Saw, Jigsaw, Mitre Saw, Reciprocating Saw'),
          leaf('sanders', 'Sanders', 'Orbital Sander, Detail Sander, Belt Sander'),
        ],
      },
      {
        slug: 'hand-tools',
        name: 'Hand tools',
        price: euros(4, 120),
        leaves: [
          leaf('screwdrivers', 'Screwdrivers', 'Screwdriver Set, Precision Screwdriver, Ratchet Screwdriver'),
          leaf('hammers', 'Hammers', 'Claw Hammer, Rubber Mallet, Sledgehammer'),
          leaf('spanners', 'Spanners & wrenches', 'Spanner Set, Adjustable Wrench, Socket Set'),
        ],
      },
      {
        slug: 'gardening',
        name: 'Gardening',
        leaves: [
          leaf('planters', 'Pots & planters', 'Planter, Plant Pot, Window Box, Raised Bed', euros(5, 180)),
          leaf('garden-hoses', 'Hoses & watering', 'Garden Hose, Hose Reel, Watering Can, Spray Gun'),
          leaf('pruning-tools', 'Pruning tools', 'Secateurs, Loppers, Hedge Shears, Pruning Saw'),
          leaf(
            'garden-furniture',
            'Garden furniture',
            'Garden Chair, Bistro Set, Parasol, Sun Lounger',
            euros(30, 900),
          ),
        ],
      },
    ],
  },
  {
    slug: 'toys-games',
    name: 'Toys & Games',
    skuPrefix: 'TOY',
    price: euros(5, 200),
    attributes: { minimumAge: oneOf([3, 5, 6, 8, 10, 12, 14]), batteriesRequired: chance(0.15) },
    categories: [
      {
        slug: 'games-puzzles',
        name: 'Games & puzzles',
        price: euros(8, 80),
        attributes: { players: oneOf(['1', '1-4', '2', '2-4', '2-6', '3-8']) },
        leaves: [
          leaf('board-games', 'Board games', 'Board Game, Strategy Game, Family Game, Party Game'),
          leaf('card-games', 'Card games', 'Card Game, Deck-Building Game, Trivia Game'),
          leaf('jigsaw-puzzles', 'Jigsaw puzzles', 'Jigsaw Puzzle, 3D Puzzle, Puzzle Set'),
        ],
      },
      {
        slug: 'building-toys',
        name: 'Building toys',
        attributes: { pieces: between(50, 3000, 10) },
        leaves: [
          leaf('construction-sets', 'Construction sets', 'Building Set, Brick Set, Construction Kit'),
          leaf('marble-runs', 'Marble runs', 'Marble Run, Marble Run Extension', euros(15, 120)),
        ],
      },
      {
        slug: 'outdoor-play',
        name: 'Outdoor play',
        leaves: [
          leaf('ride-ons', 'Scooters & ride-ons', 'Kick Scooter, Balance Bike, Ride-On Car', euros(30, 250)),
          leaf('garden-games', 'Garden games', 'Giant Jenga, Swingball, Badminton Set, Water Blaster'),
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
          leaf('moisturisers', 'Moisturisers', 'Day Cream, Night Cream, Gel Moisturiser, Face Balm'),
          leaf('cleansers', 'Cleansers', 'Foaming Cleanser, Cleansing Oil, Micellar Water'),
          leaf('serums', 'Serums', 'Vitamin C Serum, Hyaluronic Serum, Retinol Serum, Face Oil'),
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
          leaf('shampoo', 'Shampoo', 'Shampoo, Dry Shampoo, Shampoo Bar'),
          leaf('conditioner', 'Conditioner', 'Conditioner, Leave-In Conditioner, Hair Mask'),
        ],
      },
      {
        slug: 'personal-care-appliances',
        name: 'Personal care appliances',
        price: euros(15, 350),
        attributes: { batteryMinutes: between(30, 120, 10), waterproof: chance(0.5) },
        leaves: [
          leaf(
            'electric-toothbrushes',
            'Electric toothbrushes',
            'Electric Toothbrush, Sonic Toothbrush, Water Flosser',
          ),
          leaf('shavers', 'Shavers & trimmers', 'Foil Shaver, Rotary Shaver, Beard Trimmer, Body Groomer'),
          leaf('hair-dryers', 'Hair dryers & stylers', 'Hair Dryer, Hair Straightener, Curling Wand, Hot Air Brush'),
        ],
      },
    ],
  },
];

/** Model-line words that open many product names ("Aero Trail Runner"). */
export const SERIES: readonly string[] = (
  'Aero Nova Terra Summit Pulse Vista Core Flex Apex Zen Orbit Drift Nordic Urban Classic Studio Atlas ' +
  'Echo Luma Vertex Strata Tundra Coast Ember Frost Granite Harbor Horizon Ridge Solo Swift Trek Volt Wave'
).split(' ');

/** Model-line suffixes ("Nova Kettle Pro"). */
export const VARIANTS: readonly string[] = 'Pro Lite Plus Max Mini II XL Sport Essential Edge'.split(' ');
