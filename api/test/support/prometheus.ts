/**
 * A parser of Prometheus's text exposition format (version 0.0.4, what Prometheus scrapes:
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), strict enough
 * that output Prometheus would refuse fails here too: a malformed line, a bad name, an unknown
 * type, a second TYPE or HELP for a name, a family whose lines are not one group, a repeated
 * series, a histogram without its `le`. Used by the tests to read /metrics as a scraper would.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`, `x_count` for a histogram `x`). */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

export interface HistogramSeries {
  /** Cumulative counts by upper bound, in increasing order, `+Inf` last. */
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** The names a family's samples may take, beyond its own. */
const SUFFIXES: Partial<Record<MetricType, string[]>> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

export class ExpositionError extends Error {
  constructor(line: number, text: string, problem: string) {
    super(`line ${line}: ${problem}: ${JSON.stringify(text)}`);
  }
}

/** Go's ParseFloat as Prometheus reads values: decimals, exponents, NaN and signed Inf. */
function parseValue(text: string): number | undefined {
  if (/^[+-]?Inf$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^NaN$/i.test(text)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** HELP text: `\\` and `\n` are the only escapes. */
function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** While parsing: whether a TYPE line was seen (an untyped family may be declared so, once). */
type Parsed = Family & { typed?: boolean };

export function parseExposition(text: string): Exposition {
  const families = new Map<string, Parsed>();
  const series = new Set<string>();
  /** Families whose group of lines has ended: a sample of one of them now is out of place. */
  const closed = new Set<string>();
  let current: string | undefined;

  const familyOf = (sampleName: string): Parsed | undefined => {
    const own = families.get(sampleName);
    if (own && !SUFFIXES[own.type]) return own;
    for (const [type, suffixes] of Object.entries(SUFFIXES)) {
      for (const suffix of suffixes) {
        if (!sampleName.endsWith(suffix)) continue;
        const base = families.get(sampleName.slice(0, -suffix.length));
        if (base?.type === type) return base;
      }
    }
    return own;
  };
  const enter = (name: string, line: number, raw: string) => {
    if (current === name) return;
    if (closed.has(name)) throw new ExpositionError(line, raw, `the lines of ${name} are not one group`);
    if (current !== undefined) closed.add(current);
    current = name;
  };
  const declared = (name: string) => {
    let family = families.get(name);
    if (!family) families.set(name, (family = { name, type: 'untyped', samples: [] }));
    return family;
  };

  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  else throw new ExpositionError(lines.length, lines.at(-1) ?? '', 'the last line does not end with a line feed');

  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const comment = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
      // Any other comment is free text.
      if (!comment) return;
      const [, keyword, name, rest = ''] = comment as unknown as [string, 'HELP' | 'TYPE', string, string?];
      if (!METRIC_NAME.test(name)) throw new ExpositionError(line, raw, 'invalid metric name');
      const existing = families.get(name);
      enter(name, line, raw);
      if (keyword === 'HELP') {
        if (existing?.help !== undefined) throw new ExpositionError(line, raw, `second HELP for ${name}`);
        declared(name).help = unescapeHelp(rest);
      } else {
        const type = rest.trim() as MetricType;
        if (!TYPES.has(type)) throw new ExpositionError(line, raw, 'unknown metric type');
        if (existing && (existing.samples.length > 0 || existing.type !== 'untyped' || existing.typed)) {
          throw new ExpositionError(line, raw, `TYPE for ${name} after its samples or a second time`);
        }
        Object.assign(declared(name), { type, typed: true });
      }
      return;
    }

    const sample = parseSample(raw, line);
    let family = familyOf(sample.name);
    if (!family) family = declared(sample.name);
    enter(family.name, line, raw);
    if (family.type === 'histogram') {
      const suffix = sample.name.slice(family.name.length);
      if (!SUFFIXES.histogram!.includes(suffix))
        throw new ExpositionError(line, raw, 'a histogram sample needs a suffix');
      if ((suffix === '_bucket') !== 'le' in sample.labels) {
        throw new ExpositionError(line, raw, '`le` belongs on the buckets of a histogram, and only there');
      }
      if (suffix === '_bucket' && parseValue(sample.labels.le!) === undefined) {
        throw new ExpositionError(line, raw, '`le` is not a number');
      }
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => a.localeCompare(b)))}`;
    if (series.has(key)) throw new ExpositionError(line, raw, 'the same series twice');
    series.add(key);
    family.samples.push(sample);
  });
  return new Exposition(families);
}

/** One sample line: `name{label="value",...} value [timestamp]`, label values with `\\`, `\"`, `\n` escapes. */
function parseSample(raw: string, line: number): Sample {
  let at = 0;
  const fail = (problem: string): never => {
    throw new ExpositionError(line, raw, `${problem} at column ${at + 1}`);
  };
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw)?.[0] ?? fail('expected a metric name');
  at = name.length;
  const labels: Record<string, string> = {};
  if (raw[at] === '{') {
    at += 1;
    for (;;) {
      while (raw[at] === ' ') at += 1;
      if (raw[at] === '}') break;
      const label = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(raw.slice(at))?.[0] ?? fail('expected a label name');
      if (!LABEL_NAME.test(label) || label.startsWith('__')) fail(`reserved or invalid label name ${label}`);
      if (label in labels) fail(`label ${label} twice`);
      at += label.length;
      if (raw[at] !== '=' || raw[at + 1] !== '"') fail('expected ="');
      at += 2;
      let value = '';
      for (;;) {
        const c = raw[at];
        if (c === undefined) fail('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const escaped = raw[at + 1];
          if (escaped === '\\' || escaped === '"') value += escaped;
          else if (escaped === 'n') value += '\n';
          else fail('unknown escape in a label value');
          at += 2;
        } else {
          value += c;
          at += 1;
        }
      }
      at += 1;
      labels[label] = value;
      while (raw[at] === ' ') at += 1;
      if (raw[at] === ',') at += 1;
      else if (raw[at] !== '}') fail('expected , or }');
    }
    at += 1;
  }
  const rest = raw.slice(at);
  const fields = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest) ?? fail('expected a value (and a timestamp)');
  const value = parseValue(fields[1]!);
  if (value === undefined) fail(`not a number: ${fields[1]}`);
  return {
    name,
    labels,
    value: value!,
    ...(fields[2] !== undefined ? { timestamp: Number(fields[2]) } : {}),
  };
}

const matches = (labels: Record<string, string>, wanted: Record<string, string>) =>
  Object.entries(wanted).every(([name, value]) => labels[name] === value);

export class Exposition {
  constructor(readonly families: Map<string, Family>) {}

  family(name: string): Family | undefined {
    return this.families.get(name);
  }

  /** The samples named `name` whose labels include `labels`. */
  samples(name: string, labels: Record<string, string> = {}): Sample[] {
    return [...this.families.values()]
      .flatMap((family) => family.samples)
      .filter((sample) => sample.name === name && matches(sample.labels, labels));
  }

  /** The value of the one sample named `name` with exactly these labels; undefined when absent. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.samples(name, labels).filter(
      (sample) => Object.keys(sample.labels).length === Object.keys(labels).length,
    );
    if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
    return found[0]?.value;
  }

  /** A histogram's series with exactly these labels (besides `le`); undefined when absent. */
  histogram(name: string, labels: Record<string, string>): HistogramSeries | undefined {
    const family = this.families.get(name);
    if (!family) return undefined;
    if (family.type !== 'histogram') throw new Error(`${name} is a ${family.type}, not a histogram`);
    const count = this.value(`${name}_count`, labels);
    const sum = this.value(`${name}_sum`, labels);
    if (count === undefined || sum === undefined) return undefined;
    const size = Object.keys(labels).length + 1;
    const buckets = this.samples(`${name}_bucket`, labels)
      .filter((sample) => Object.keys(sample.labels).length === size)
      .map((sample) => ({ le: parseValue(sample.labels.le!)!, count: sample.value }))
      .sort((a, b) => a.le - b.le);
    return { buckets, sum, count };
  }
}
