#!/usr/bin/env node
// `npm run lint:compose`: docker-compose.yml against the Compose specification and its
// best-practice rules (dclint, any warning fails), .env.example against the variables the file
// reads, then, where installed, the Compose implementations' own validation:
// `docker-compose config -q` (Debian's 1.29) and `docker compose config -q` (the v2 plugin).
// No Docker engine is needed for any of it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const composeFile = join(root, 'docker-compose.yml');
const exampleFile = join(root, '.env.example');
// Read by Compose itself rather than by the file's ${...}.
const COMPOSE_SETTINGS = new Set(['COMPOSE_PROJECT_NAME']);

let failed = false;
const fail = (message) => {
  console.error(message);
  failed = true;
};

const dclint = spawnSync(join(root, 'node_modules/.bin/dclint'), ['--max-warnings', '0', composeFile], {
  stdio: 'inherit',
});
if (dclint.status !== 0) fail('dclint: docker-compose.yml has problems (above)');

// ${NAME}, ${NAME:-default}, ${NAME:?message}; `$$` is a literal dollar sign.
const compose = readFileSync(composeFile, 'utf8');
const read = new Set(
  [...compose.replaceAll('$$', '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map(([, name]) => name),
);
const example = new Map(
  readFileSync(exampleFile, 'utf8')
    .split('\n')
    .filter((line) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);
for (const name of read) if (!example.has(name)) fail(`.env.example lacks ${name}, which docker-compose.yml reads`);
for (const name of example.keys()) {
  if (!read.has(name) && !COMPOSE_SETTINGS.has(name))
    fail(`.env.example lists ${name}, which docker-compose.yml never reads`);
}

// The secrets are empty in .env.example (never committed) and required by the file: stand-ins.
const dir = mkdtempSync(join(tmpdir(), 'lint-compose-'));
try {
  const envFile = join(dir, '.env');
  writeFileSync(
    envFile,
    [...example].map(([name, value]) => `${name}=${value || 'placeholder-secret-0123456789abcdef'}`).join('\n'),
  );
  const implementations = [
    ['docker-compose', ['--env-file', envFile, '-f', composeFile, 'config', '-q']],
    ['docker', ['compose', '--env-file', envFile, '-f', composeFile, 'config', '-q']],
  ];
  for (const [command, args] of implementations) {
    const name = command === 'docker' ? 'docker compose' : command;
    const version = spawnSync(command, command === 'docker' ? ['compose', 'version'] : ['version', '--short'], {
      encoding: 'utf8',
    });
    if (version.error || version.status !== 0) {
      console.log(`${name}: not installed, skipped`);
      continue;
    }
    const check = spawnSync(command, args, { encoding: 'utf8' });
    if (check.status === 0) console.log(`${name} ${version.stdout.trim().split('\n')[0]}: docker-compose.yml is valid`);
    else fail(`${name} rejects docker-compose.yml:\n${check.stderr}${check.stdout}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
