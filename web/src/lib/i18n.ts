/**
 * The storefront's two languages: every UI string lives here, so a translation is one edit.
 * Shared by server and browser code (it is small); prices and dates go through Intl.
 */
export const LANGS = ['en', 'fr'] as const;
export type Lang = (typeof LANGS)[number];

const en = {
  site: 'Catalogue',
  skip: 'Skip to content',
  home: 'Home',
  allProducts: 'All products',
  departments: 'Departments',
  searchLabel: 'Search the catalogue',
  searchPlaceholder: 'Search products',
  searchButton: 'Search',
  suggestions: 'Suggestions',
  language: 'Language',
  switchTo: 'Français',
  footer: 'A catalogue served one page at a time.',
  categories: 'Categories',
  products: 'Products',
  newProducts: 'New in the catalogue',
  seeAll: 'See all products',
  noProducts: 'No products match these filters.',
  inStock: 'In stock',
  outOfStock: 'Out of stock',
  onlyLeft: 'Only {n} left',
  nInStock: '{n} in stock',
  prev: 'Previous page',
  next: 'Next page',
  pages: 'Pages',
  firstPage: 'Back to the first page',
  count: '{n} products',
  countAbout: 'About {n} products',
  filters: 'Filters',
  brand: 'Brand',
  price: 'Price',
  minPrice: 'Minimum price ({c})',
  maxPrice: 'Maximum price ({c})',
  onlyInStock: 'In stock only',
  sort: 'Sort by',
  apply: 'Apply',
  clear: 'Clear filters',
  sort_newest: 'Newest',
  sort_price_asc: 'Price, low to high',
  sort_price_desc: 'Price, high to low',
  sort_name_asc: 'Name, A to Z',
  breadcrumbs: 'Breadcrumbs',
  subcategories: 'In this category',
  attributes: 'Details',
  sku: 'SKU',
  added: 'In the catalogue since {d}',
  imagesOf: 'Pictures of {name}',
  resultsFor: 'Results for “{q}”',
  showingFor: 'Showing results for “{q}”',
  relaxed: 'No product had every word: these have some of them.',
  searchAll: 'Search the catalogue',
  hits: '{n} results',
  hitsAbout: 'About {n} results',
  noHits: 'Nothing matches “{q}”. Try other words or fewer filters.',
  refine: 'Refine',
  category: 'Category',
  availability: 'Availability',
  activeFilters: 'Filters in use',
  remove: 'Remove: {f}',
  priceFrom: 'From {a}',
  priceRange: '{a} to {b}',
  pageOf: 'Page {p} of {n}',
  notFound: 'Page not found',
  notFoundText: 'There is nothing at this address. Search the catalogue or start again from the home page.',
  error: 'Something went wrong',
  badPage: 'This page link is no longer valid',
  badPageText:
    'The link points to a page of results that cannot be shown any more (the filters or the order changed). Start again from the first page.',
  unavailable: 'The catalogue is unavailable right now. Please try again in a moment.',
  backHome: 'Back to the home page',
  // Admin
  admin: 'Catalogue admin',
  signIn: 'Sign in',
  signOut: 'Sign out',
  apiKey: 'API key',
  apiKeyHint: 'A key with the stock:write scope. It is kept in a secure cookie for this browser only.',
  wrongKey: 'This API key was refused. Check it and try again.',
  keyLacksScope: 'This API key cannot change stock (it lacks the stock:write scope).',
  findProducts: 'Find products',
  findLabel: 'Name, SKU, id or slug',
  find: 'Find',
  name: 'Name',
  stock: 'Stock',
  open: 'Open',
  currentStock: 'Stock now: {n}',
  setStock: 'Set the stock',
  newLevel: 'New stock level',
  reason: 'Reason',
  save: 'Save',
  adjustStock: 'Adjust the stock',
  delta: 'Units to add (negative to take away)',
  apply_adjust: 'Apply',
  stockSet: 'The stock is now {n}.',
  stale:
    'Someone else changed the stock first: it is now {n}. Nothing was overwritten; check the figure and try again.',
  insufficient: 'That would take the stock below zero: only {n} in stock. Nothing was changed.',
  invalidInput: 'Check the figures: whole numbers only, and a reason.',
  movements: 'Stock movements',
  when: 'When',
  change: 'Change',
  after: 'After',
  who: 'By',
  noMovements: 'No movements yet.',
  olderMovements: 'Older movements',
  newestMovements: 'Newest movements',
  viewInShop: 'View in the shop',
  backToSearch: 'Back to the search',
  signedOut: 'You are signed out.',
  sessionExpired: 'Your key is no longer accepted: sign in again.',
  notFoundProduct: 'No such product.',
};

export type Key = keyof typeof en;

const fr: Record<Key, string> = {
  site: 'Catalogue',
  skip: 'Aller au contenu',
  home: 'Accueil',
  allProducts: 'Tous les produits',
  departments: 'Rayons',
  searchLabel: 'Rechercher dans le catalogue',
  searchPlaceholder: 'Rechercher un produit',
  searchButton: 'Rechercher',
  suggestions: 'Suggestions',
  language: 'Langue',
  switchTo: 'English',
  footer: 'Un catalogue servi une page à la fois.',
  categories: 'Catégories',
  products: 'Produits',
  newProducts: 'Nouveautés du catalogue',
  seeAll: 'Voir tous les produits',
  noProducts: 'Aucun produit ne correspond à ces filtres.',
  inStock: 'En stock',
  outOfStock: 'Épuisé',
  onlyLeft: 'Plus que {n}',
  nInStock: '{n} en stock',
  prev: 'Page précédente',
  next: 'Page suivante',
  pages: 'Pages',
  firstPage: 'Revenir à la première page',
  count: '{n} produits',
  countAbout: 'Environ {n} produits',
  filters: 'Filtres',
  brand: 'Marque',
  price: 'Prix',
  minPrice: 'Prix minimum ({c})',
  maxPrice: 'Prix maximum ({c})',
  onlyInStock: 'En stock seulement',
  sort: 'Trier par',
  apply: 'Appliquer',
  clear: 'Effacer les filtres',
  sort_newest: 'Nouveautés',
  sort_price_asc: 'Prix croissant',
  sort_price_desc: 'Prix décroissant',
  sort_name_asc: 'Nom, de A à Z',
  breadcrumbs: 'Fil d’Ariane',
  subcategories: 'Dans cette catégorie',
  attributes: 'Caractéristiques',
  sku: 'Référence',
  added: 'Au catalogue depuis le {d}',
  imagesOf: 'Photos de {name}',
  resultsFor: 'Résultats pour « {q} »',
  showingFor: 'Résultats affichés pour « {q} »',
  relaxed: 'Aucun produit n’a tous les mots : voici ceux qui en ont une partie.',
  searchAll: 'Rechercher dans le catalogue',
  hits: '{n} résultats',
  hitsAbout: 'Environ {n} résultats',
  noHits: 'Rien ne correspond à « {q} ». Essayez d’autres mots ou moins de filtres.',
  refine: 'Affiner',
  category: 'Catégorie',
  availability: 'Disponibilité',
  activeFilters: 'Filtres actifs',
  remove: 'Retirer : {f}',
  priceFrom: 'À partir de {a}',
  priceRange: 'De {a} à {b}',
  pageOf: 'Page {p} sur {n}',
  notFound: 'Page introuvable',
  notFoundText: 'Il n’y a rien à cette adresse. Cherchez dans le catalogue ou repartez de l’accueil.',
  error: 'Une erreur est survenue',
  badPage: 'Ce lien de page n’est plus valable',
  badPageText:
    'Le lien mène à une page de résultats qui ne peut plus être affichée (les filtres ou le tri ont changé). Repartez de la première page.',
  unavailable: 'Le catalogue est indisponible pour le moment. Réessayez dans un instant.',
  backHome: 'Retour à l’accueil',
  admin: 'Administration du catalogue',
  signIn: 'Se connecter',
  signOut: 'Se déconnecter',
  apiKey: 'Clé d’API',
  apiKeyHint:
    'Une clé avec le droit stock:write. Elle est gardée dans un cookie sécurisé, pour ce navigateur seulement.',
  wrongKey: 'Cette clé d’API a été refusée. Vérifiez-la et réessayez.',
  keyLacksScope: 'Cette clé d’API ne peut pas modifier le stock (il lui manque le droit stock:write).',
  findProducts: 'Trouver des produits',
  findLabel: 'Nom, référence, id ou slug',
  find: 'Chercher',
  name: 'Nom',
  stock: 'Stock',
  open: 'Ouvrir',
  currentStock: 'Stock actuel : {n}',
  setStock: 'Fixer le stock',
  newLevel: 'Nouveau niveau de stock',
  reason: 'Motif',
  save: 'Enregistrer',
  adjustStock: 'Ajuster le stock',
  delta: 'Unités à ajouter (négatif pour retirer)',
  apply_adjust: 'Appliquer',
  stockSet: 'Le stock est maintenant de {n}.',
  stale:
    'Quelqu’un a modifié le stock avant vous : il est maintenant de {n}. Rien n’a été écrasé ; vérifiez le chiffre et réessayez.',
  insufficient: 'Le stock passerait sous zéro : il n’en reste que {n}. Rien n’a changé.',
  invalidInput: 'Vérifiez les chiffres : des nombres entiers seulement, et un motif.',
  movements: 'Mouvements de stock',
  when: 'Date',
  change: 'Variation',
  after: 'Après',
  who: 'Par',
  noMovements: 'Aucun mouvement pour l’instant.',
  olderMovements: 'Mouvements plus anciens',
  newestMovements: 'Mouvements les plus récents',
  viewInShop: 'Voir dans la boutique',
  backToSearch: 'Retour à la recherche',
  signedOut: 'Vous êtes déconnecté.',
  sessionExpired: 'Votre clé n’est plus acceptée : reconnectez-vous.',
  notFoundProduct: 'Produit introuvable.',
};

const dictionaries: Record<Lang, Record<Key, string>> = { en, fr };

export const isLang = (value: unknown): value is Lang => LANGS.includes(value as Lang);

export type Translate = (key: Key, params?: Record<string, string | number>) => string;

/**
 * Formatters, made once per language and options: building an Intl formatter costs far more than
 * using one, and a listing page formats dozens of prices.
 */
const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
function formatter<T extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, make: () => T): T {
  let made = formatters.get(key) as T | undefined;
  if (!made) formatters.set(key, (made = make()));
  return made;
}

const translators = new Map<Lang, Translate>();

export function translator(lang: Lang): Translate {
  let translate = translators.get(lang);
  if (translate) return translate;
  const dictionary = dictionaries[lang];
  const numbers = formatter(`n:${lang}`, () => new Intl.NumberFormat(lang));
  translate = (key, params) =>
    dictionary[key].replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params?.[name];
      return typeof value === 'number' ? numbers.format(value) : (value ?? '');
    });
  translators.set(lang, translate);
  return translate;
}

/** Decimal places of a currency's minor unit (2 for EUR, 0 for JPY). */
export const minorDigits = (currency: string) =>
  formatter(`c:en:${currency}`, () => new Intl.NumberFormat('en', { style: 'currency', currency })).resolvedOptions()
    .maximumFractionDigits ?? 2;

export const formatPrice = (lang: Lang, money: { amount: number; currency: string }) =>
  formatter(
    `c:${lang}:${money.currency}`,
    () => new Intl.NumberFormat(lang, { style: 'currency', currency: money.currency }),
  ).format(money.amount / 10 ** minorDigits(money.currency));

export const formatDate = (lang: Lang, iso: string, withTime = false) =>
  formatter(
    `d:${lang}:${withTime}`,
    () => new Intl.DateTimeFormat(lang, withTime ? { dateStyle: 'medium', timeStyle: 'short' } : { dateStyle: 'long' }),
  ).format(new Date(iso));
