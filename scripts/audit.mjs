#!/usr/bin/env node
// `npm run audit`: the dependency audit docs/security.md promises. It asks the registry for the
// advisories against what runs in production (`npm audit --omit=dev --json`), plus the
// devDependencies whose code the storefront's build bundles (below), prints the counts, and fails
// on any high or critical advisory that docs/security.md does not explain.
//
// Exit codes: 0 nothing unexplained; 1 an unexplained high or critical advisory (named); 2 no
// audit was made (the registry's audit endpoint refused or could not be reached), said plainly.
//
// For tests: --production FILE and --full FILE read saved `npm audit --json` reports instead of
// asking the registry; --exceptions FILE reads another document than docs/security.md.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const GATED = new Set(['high', 'critical']);
const SEVERITIES = ['critical', 'high', 'moderate', 'low', 'info'];

// adapter-node bundles the storefront's devDependencies into web/build (its `dependencies`, cookie
// and openapi-fetch, stay outside and are audited as production ones). These are the packages
// the build's source maps name (`web/build/**/*.map`): they run in production, although
// `--omit=dev` leaves them out. Vite, Rollup and the rest only build it.
const BUNDLED_INTO_STOREFRONT = new Set([
  '@sveltejs/kit',
  '@sveltejs/adapter-node',
  'svelte',
  'devalue',
  'set-cookie-parser',
  'clsx',
]);

const { values: options } = parseArgs({
  options: {
    production: { type: 'string' },
    full: { type: 'string' },
    exceptions: { type: 'string', default: `${root}docs/security.md` },
  },
});

class NoAudit extends Error {}

/** `npm audit --json` exits non-zero whenever it finds something: its report is on stdout either way. */
function npmAudit(args) {
  return new Promise((resolve) => {
    execFile('npm', ['audit', '--json', ...args], { cwd: root, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve(stdout || stderr || String(error ?? '')),
    );
  });
}

function parseReport(text, what) {
  let report;
  try {
    report = JSON.parse(text);
  } catch {
    throw new NoAudit(`${what}: npm audit did not answer with a report: ${text.trim().slice(0, 300) || '(nothing)'}`);
  }
  if (!report?.metadata?.vulnerabilities || typeof report.vulnerabilities !== 'object') {
    const reason = report?.message ?? report?.error?.summary ?? JSON.stringify(report).slice(0, 300);
    throw new NoAudit(`${what}: the registry's audit endpoint did not answer: ${reason}`);
  }
  return report;
}

const load = async (file, args, what) => parseReport(file ? await readFile(file, 'utf8') : await npmAudit(args), what);

/** One row per advisory (an advisory is named by its GHSA id), from the packages `keep` selects. */
function advisories(report, keep = () => true) {
  const found = new Map();
  for (const [name, vulnerability] of Object.entries(report.vulnerabilities)) {
    if (!keep(name)) continue;
    // A string in `via` is a dependency that carries the advisory: it has its own entry.
    for (const via of vulnerability.via.filter((v) => typeof v === 'object')) {
      const id = /GHSA-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}/i.exec(via.url ?? '')?.[0] ?? `npm-${via.source}`;
      found.set(id, {
        id,
        package: via.name ?? name,
        severity: via.severity,
        title: via.title,
        url: via.url,
        range: via.range,
      });
    }
  }
  return [...found.values()];
}

/** The machine-readable list in docs/security.md, between the audit-exceptions markers. */
async function exceptions(file) {
  const text = await readFile(file, 'utf8');
  const block = /<!-- audit-exceptions:start -->\s*```json\n([\s\S]*?)```\s*<!-- audit-exceptions:end -->/.exec(text);
  if (!block) throw new Error(`${file}: no audit-exceptions block (a JSON list between the audit-exceptions markers)`);
  const today = new Date().toISOString().slice(0, 10);
  const valid = new Map();
  for (const entry of JSON.parse(block[1])) {
    const problem = !entry.advisory
      ? 'names no advisory'
      : !entry.reason?.trim()
        ? 'gives no reason'
        : entry.expires && entry.expires < today
          ? `expired on ${entry.expires}`
          : undefined;
    if (problem)
      console.log(`  exception for ${entry.advisory ?? '?'} (${entry.package ?? '?'}) not accepted: it ${problem}`);
    else valid.set(entry.advisory.toUpperCase(), entry);
  }
  return valid;
}

const counts = (rows) => SEVERITIES.map((s) => `${rows.filter((r) => r.severity === s).length} ${s}`).join(', ');
const line = (a) =>
  `${a.severity.padEnd(8)} ${a.id}  ${a.package} ${a.range ?? ''}: ${a.title}${a.url ? ` (${a.url})` : ''}`;

async function main() {
  const explained = await exceptions(options.exceptions);
  const production = await load(options.production, ['--omit=dev'], 'npm audit --omit=dev');
  const full = await load(options.full, [], 'npm audit');

  const meta = production.metadata;
  const prodCounts = SEVERITIES.map((s) => `${meta.vulnerabilities[s] ?? 0} ${s}`).join(', ');
  console.log(
    `production dependencies: ${meta.dependencies?.prod ?? meta.dependencies?.total ?? '?'}; advisories: ${prodCounts}`,
  );
  const bundled = advisories(full, (name) => BUNDLED_INTO_STOREFRONT.has(name));
  console.log(
    `bundled into the storefront (${[...BUNDLED_INTO_STOREFRONT].join(', ')}): advisories: ${counts(bundled)}`,
  );
  const devOnly = advisories(full, (name) => !production.vulnerabilities[name] && !BUNDLED_INTO_STOREFRONT.has(name));
  console.log(`build and test tools only (not gated): advisories: ${counts(devOnly)}`);

  const gated = [...advisories(production), ...bundled].filter((a) => GATED.has(a.severity));
  const unexplained = gated.filter((a) => !explained.has(a.id.toUpperCase()));
  for (const a of gated.filter((g) => explained.has(g.id.toUpperCase()))) {
    console.log(`  explained in docs/security.md: ${line(a)}`);
  }
  const reported = new Set(gated.map((a) => a.id.toUpperCase()));
  for (const id of explained.keys()) {
    if (!reported.has(id)) console.log(`  exception ${id} no longer reported: remove it from docs/security.md`);
  }
  if (unexplained.length > 0) {
    console.log(
      `\n${unexplained.length} high or critical advisory(ies) unexplained: fix (npm update), or explain in docs/security.md:`,
    );
    for (const a of unexplained) console.log(`  unexplained: ${line(a)}`);
    process.exitCode = 1;
    return;
  }
  console.log('audit: no high or critical advisory left unexplained');
}

main().catch((error) => {
  if (error instanceof NoAudit) {
    console.log(`audit: NO AUDIT WAS MADE. ${error.message}`);
    process.exitCode = 2;
    return;
  }
  console.error(error);
  process.exitCode = 1;
});
