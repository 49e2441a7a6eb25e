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

/** How the database sees one term (see pg/words.ts, analyse). */
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
  /**
   * Every word of the documents that begins with the stem, or with the lexeme: what `stem:*` and
   * `lexeme:*` match, searched as those words (see BuiltQuery.find). Absent or null when there are
   * too many to list (the prefix is searched as a prefix then).
   */
  stemCompletions?: string[] | null;
  prefixCompletions?: string[] | null;
}

/** A lexeme in a tsquery: quoted, with the quote and backslash escaped (none survive queryTerms). */
const quoted = (lexeme: string) => `'${lexeme.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;

/**
 * Completions usable as words of a tsquery: each a single run of letters and digits (as a term
 * is), which to_tsquery reads back as that one word. A hyphenated word (`professional-grade`)
 * is left out: its documents hold its first part too, which the same prefix completes to. Any
 * other (`3.5`, a host name) could be read as several words: the prefix is searched as a prefix.
 */
function listed(completions: string[] | null | undefined): string[] | null {
  const words = completions?.filter((word) => !/^[\p{L}\p{M}\p{N}]+(?:-[\p{L}\p{M}\p{N}]+)+$/u.test(word));
  return words?.every((word) => /^[\p{L}\p{M}\p{N}]+$/u.test(word)) ? words : null;
}

/** Alternatives: words, and prefixes (`word:*`) whose completions are not listed. */
interface Forms {
  words: string[];
  prefixes: string[];
}

/** The alternatives in a tsquery. */
function oneOf({ words, prefixes }: Forms): string {
  const parts = [...new Set(words)].map(quoted).concat([...new Set(prefixes)].map((prefix) => `${quoted(prefix)}:*`));
  return parts.length === 1 ? parts[0]! : `(${parts.join(' | ')})`;
}

/** Whether `a` matches every word `b` does. */
function covers(a: Forms, b: Forms): boolean {
  const within = (word: string) => a.words.includes(word) || a.prefixes.some((prefix) => word.startsWith(prefix));
  return b.words.every(within) && b.prefixes.every((prefix) => a.prefixes.some((p) => prefix.startsWith(p)));
}

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
  /**
   * What finds a product when `match` is null, on the documents: the same products as `tsquery`
   * (or `match`), each word in its cheapest equivalent form for the index. A prefix is the words
   * it completes to when they are listed (`kettl:*` is `kettle | kettles | kettlebell`: posting
   * lists the index merges, where a prefix makes it collect every completion's matches first); a
   * stem that begins its word covers it (`kettle | kettl:*` is `kettl:*`), and a last word whose
   * stem begins it needs no title prefix (the title's words are in the document too). `match`
   * takes the same forms.
   */
  find: string | null;
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
  // The same parts in their cheapest equivalent forms (see BuiltQuery.find).
  const finds: string[] = [];
  let prefixPart = '';
  let wholeLast = '';
  // The last word needs a title prefix beside its whole forms (see BuiltQuery.match).
  let titlePrefix = false;
  kept.forEach((term, i) => {
    const last = i === kept.length - 1;
    const typo = !term.known && !(last && term.knownPrefix) && term.correction !== null;
    const word = typo ? term.correction! : term.lexeme;
    corrected ||= typo;
    words.push(word);
    exact.push(quoted(word));
    const stem = !typo && term.stem && term.stem !== word && term.stem.length >= 4 ? term.stem : null;
    // The word whole or by its stem, the stem's completions listed or as a prefix: 'kettl:*'
    // finds every word 'kettle' or 'kettle:*' does.
    const stemCompletions = listed(term.stemCompletions);
    const whole: Forms =
      stem === null
        ? { words: [word], prefixes: [] }
        : stemCompletions
          ? { words: [word, ...stemCompletions], prefixes: [] }
          : { words: word.startsWith(stem) ? [] : [word], prefixes: [stem] };
    if (last && !typo && word.length >= 2) {
      prefix = word;
      prefixPart = stem ? `(${quoted(word)}:* | ${quoted(stem)}:*)` : `${quoted(word)}:*`;
      parts.push(prefixPart);
      // As a prefix of a title word: the word's completions, and the stem's. The title's words
      // are in the document too: when the whole word finds them all, no title prefix is needed.
      const completions = listed(term.prefixCompletions);
      const title: Forms = {
        words: [...(completions ? [word, ...completions] : []), ...(stem === null ? [] : (stemCompletions ?? []))],
        prefixes: [...(completions ? [] : [word]), ...(stem !== null && !stemCompletions ? [stem] : [])],
      };
      titlePrefix = !covers(whole, title);
      wholeLast = oneOf(whole);
      finds.push(titlePrefix ? oneOf(title) : wholeLast);
    } else {
      parts.push(stem ? `(${quoted(word)} | ${quoted(stem)}:*)` : quoted(word));
      finds.push(oneOf(whole));
    }
  });
  if (parts.length === 0) {
    return { tsquery: null, exact: null, words, corrected, prefix: null, match: null, find: null };
  }
  const join = any ? ' | ' : ' & ';
  const others = finds.slice(0, -1);
  // Relaxed (any word), the plain query: a product needs only one of the words.
  const match =
    prefix === null || any || !titlePrefix
      ? null
      : {
          whole: [...others, wholeLast].join(join),
          titlePrefix: finds.at(-1)!,
          rest: others.length > 0 ? others.join(join) : null,
        };
  return {
    tsquery: parts.join(join),
    exact: exact.join(join),
    words,
    corrected,
    prefix,
    match,
    find: match === null ? finds.join(join) : null,
  };
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
