import type pg from 'pg';
import type { TermAnalysis } from '../terms.ts';

/**
 * The query's words against the catalogue's (search_vocabulary: every word of the documents;
 * search_words: the title words, with their number of products, that typos are corrected to).
 */

/** Completions listed for a prefix at most (more: the prefix is searched as a prefix). */
const COMPLETIONS_CAP = 50;

const ANALYSE = `
  SELECT n.lexeme, s.stem, (s.stem IS NULL OR f.stop) AS stop,
         -- The words of the documents the stem and the lexeme begin (see TermAnalysis).
         CASE WHEN length(s.stem) >= 4 AND s.stem <> n.lexeme THEN (
           SELECT CASE WHEN count(*) <= ${COMPLETIONS_CAP} THEN coalesce(array_agg(v.word), '{}') END
             FROM (SELECT v.word FROM search_vocabulary v
                    WHERE v.word >= s.stem COLLATE "C" AND v.word < (s.stem || chr(1114111)) COLLATE "C"
                    LIMIT ${COMPLETIONS_CAP + 1}) v
         ) END AS stem_completions,
         CASE WHEN length(n.lexeme) >= 2 THEN (
           SELECT CASE WHEN count(*) <= ${COMPLETIONS_CAP} THEN coalesce(array_agg(v.word), '{}') END
             FROM (SELECT v.word FROM search_vocabulary v
                    WHERE v.word >= n.lexeme COLLATE "C" AND v.word < (n.lexeme || chr(1114111)) COLLATE "C"
                    LIMIT ${COMPLETIONS_CAP + 1}) v
         ) END AS prefix_completions,
         EXISTS (SELECT 1 FROM search_words w WHERE w.word = n.lexeme COLLATE "C") AS known,
         n.lexeme <> '' AND EXISTS (SELECT 1 FROM search_words w
                                     WHERE w.word >= n.lexeme COLLATE "C" AND w.word < (n.lexeme || chr(1114111)) COLLATE "C") AS known_prefix,
         fix.word AS correction
    FROM unnest($1::text[]) WITH ORDINALITY AS t(term, ord)
   CROSS JOIN LATERAL (SELECT coalesce((tsvector_to_array(to_tsvector('catalog', t.term)))[1], '') AS lexeme) n
   CROSS JOIN LATERAL (SELECT (ts_lexize('english_stem', n.lexeme))[1] AS stem) s
   CROSS JOIN LATERAL (SELECT coalesce(ts_lexize('french_stem', n.lexeme) = '{}', false) AS stop) f
    LEFT JOIN LATERAL (
      SELECT c.word FROM (SELECT w.word, w.ndoc FROM search_words w ORDER BY w.word <-> n.lexeme LIMIT 30) c
       CROSS JOIN LATERAL (
         -- A typo on the first letter counts twice (as in Meilisearch): people rarely get it wrong.
         SELECT typo_distance(c.word, n.lexeme, 2) + (left(c.word, 1) <> left(n.lexeme, 1))::int AS typos
       ) d
       -- Only for a word the catalogue lacks (the nearest words are not even looked up otherwise).
       WHERE length(n.lexeme) >= 4 AND NOT EXISTS (SELECT 1 FROM search_words w WHERE w.word = n.lexeme COLLATE "C")
         AND d.typos <= CASE WHEN length(n.lexeme) >= 8 THEN 2 ELSE 1 END
       ORDER BY d.typos, c.ndoc DESC, c.word
       LIMIT 1
    ) fix ON NOT EXISTS (SELECT 1 FROM search_words w WHERE w.word = n.lexeme COLLATE "C")
   ORDER BY t.ord`;

/** How the database sees each term: stem, stop word, known, correction, completions. */
export async function analyse(pool: pg.Pool, terms: string[]): Promise<TermAnalysis[]> {
  if (terms.length === 0) return [];
  const { rows } = await pool.query<{
    lexeme: string;
    stem: string | null;
    stop: boolean;
    known: boolean;
    known_prefix: boolean;
    correction: string | null;
    stem_completions: string[] | null;
    prefix_completions: string[] | null;
  }>({ name: 'search_analyse', text: ANALYSE, values: [terms] });
  return rows.map((r) => ({
    lexeme: r.lexeme,
    stem: r.stem,
    stop: r.stop,
    known: r.known,
    knownPrefix: r.known_prefix,
    correction: r.correction,
    stemCompletions: r.stem_completions,
    prefixCompletions: r.prefix_completions,
  }));
}

/** Rebuilds the words typos are corrected against (on the primary: a replica is read-only). */
export async function refreshWords(primary: pg.Pool): Promise<void> {
  await primary.query('REFRESH MATERIALIZED VIEW CONCURRENTLY search_words');
}

/**
 * Builds the words when a catalogue has products but no words yet (migrated to search, or loaded
 * without the seed), rather than at the next periodic refresh. True when it built them.
 */
export async function refreshWordsIfMissing(primary: pg.Pool): Promise<boolean> {
  const { rows } = await primary.query<{ missing: boolean }>(
    'SELECT NOT EXISTS (SELECT 1 FROM search_words) AND EXISTS (SELECT 1 FROM product_search) AS missing',
  );
  if (!rows[0]?.missing) return false;
  await refreshWords(primary);
  return true;
}
