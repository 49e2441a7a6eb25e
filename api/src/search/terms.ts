/**
 * The words of a query, as the user typed them: runs of letters and digits, lower-cased. Every
 * quote, operator, bracket, backslash, control character or emoji falls between words, so no
 * tsquery syntax and nothing else from the input ever reaches SQL but these words, as parameters.
 */
export const MAX_TERMS = 10;
export const MAX_TERM_LENGTH = 40;

export function queryTerms(q: string): string[] {
  const words =
    q
      .normalize('NFC')
      .toLowerCase()
      .match(/[\p{L}\p{M}\p{N}]+/gu) ?? [];
  return [...new Set(words.map((word) => word.slice(0, MAX_TERM_LENGTH)))].slice(0, MAX_TERMS);
}

/** How the database sees one term (see PgSearch.analyse). */
export interface TermAnalysis {
  /** The term as the index holds words (accents folded); empty when it has no indexable word. */
  lexeme: string;
  /** Its English stem, or null for a stop word. */
  stem: string | null;
  /** A stop word in English or French. */
  stop: boolean;
  /** The catalogue has this word. */
  known: boolean;
  /** The catalogue has a word starting with it. */
  knownPrefix: boolean;
  /** The nearest catalogue word, when the term is not one (a typo). */
  correction: string | null;
}

/** A lexeme in a tsquery: quoted, with the quote and backslash escaped (none survive queryTerms). */
const quoted = (lexeme: string) => `'${lexeme.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;

export interface BuiltQuery {
  /** For to_tsquery('catalog', …): null when no term is left (filters only). */
  tsquery: string | null;
  /** The same words, whole (no prefix, no stem): whose matches rank first. */
  exact: string | null;
  /** The words searched for, corrections applied: shown when they differ from the query. */
  words: string[];
  corrected: boolean;
  /** The word matched as a prefix (the last, being typed), or null. */
  prefix: string | null;
  /**
   * With a prefix: what finds a product. The words all whole (`whole`), or the others whole
   * (`rest`, null when there are none) and the prefix completing a word of the title
   * (`titlePrefix`): 'sta' finds a Stand by its name, not every description with 'stay' in it.
   */
  match: { whole: string; titlePrefix: string; rest: string | null } | null;
}

/**
 * The tsquery of analysed terms, all required (`&`; `|` when `any`):
 *  - the last term, still being typed, matches as a prefix (`kett` finds kettle);
 *  - the others match whole, or by their stem as a prefix (`shoes` finds shoe);
 *  - an unknown term that is near a catalogue word is replaced by it (`kettel` → kettle);
 *  - stop words are dropped, unless they are the last term (`the` may become `thermos`) or all.
 */
export function buildQuery(terms: TermAnalysis[], { any = false } = {}): BuiltQuery {
  const usable = terms.filter((t) => t.lexeme !== '');
  const kept = usable.filter((t, i) => !t.stop || i === usable.length - 1 || usable.every((u) => u.stop));
  const parts: string[] = [];
  const exact: string[] = [];
  const words: string[] = [];
  let corrected = false;
  let prefix: string | null = null;
  let prefixPart = '';
  let wholeLast = '';
  kept.forEach((term, i) => {
    const last = i === kept.length - 1;
    const typo = !term.known && !(last && term.knownPrefix) && term.correction !== null;
    const word = typo ? term.correction! : term.lexeme;
    corrected ||= typo;
    words.push(word);
    exact.push(quoted(word));
    const stem = !typo && term.stem && term.stem !== word && term.stem.length >= 4 ? term.stem : null;
    if (last && !typo && word.length >= 2) {
      prefix = word;
      prefixPart = stem ? `(${quoted(word)}:* | ${quoted(stem)}:*)` : `${quoted(word)}:*`;
      wholeLast = stem ? `(${quoted(word)} | ${quoted(stem)}:*)` : quoted(word);
      parts.push(prefixPart);
    } else {
      parts.push(stem ? `(${quoted(word)} | ${quoted(stem)}:*)` : quoted(word));
    }
  });
  if (parts.length === 0) return { tsquery: null, exact: null, words, corrected, prefix: null, match: null };
  const join = any ? ' | ' : ' & ';
  const others = parts.slice(0, -1);
  // Relaxed (any word), the plain query: a product needs only one of the words.
  const match =
    prefix === null || any
      ? null
      : {
          whole: [...others, wholeLast].join(join),
          titlePrefix: prefixPart,
          rest: others.length > 0 ? others.join(join) : null,
        };
  return { tsquery: parts.join(join), exact: exact.join(join), words, corrected, prefix, match };
}

export const MARK_START = '\uE000';
export const MARK_END = '\uE001';
/** ts_headline options: the whole text, matches between two private-use characters. */
export const HEADLINE_OPTIONS = `HighlightAll=true, StartSel=${MARK_START}, StopSel=${MARK_END}`;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** A headline as HTML: the text escaped, the matches in `<mark>` (the text cannot inject markup). */
export function markHtml(headline: string): string {
  return headline
    .replace(/[&<>"']/g, (c) => ESCAPES[c]!)
    .replaceAll(MARK_START, '<mark>')
    .replaceAll(MARK_END, '</mark>');
}
