import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeiliStandIn } from '@catalogue/testing/meili-standin';
import { query, startPostgres, type Postgres } from '@catalogue/testing/postgres';
import { freePort, repoRoot, waitFor } from '@catalogue/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  parseDockerfile,
  parseEnvFile,
  readCompose,
  readRepoFile,
  type Compose,
  type ComposeService,
  type Dockerfile,
  type ImageCopy,
} from './support/image.ts';

/**
 * The production install, as `docker compose up` would run it, outside a container (no Docker
 * engine on the build machines). What each final stage of the Dockerfile holds is copied into a
 * folder of its own through .dockerignore and installed with the stage's own `npm ci --omit=dev`
 * (web/test/support/image.ts reads both files); the storefront's build is the one this project's
 * tests build from the same sources. Then the commands docker-compose.yml gives each service run
 * from those folders, with the environment it gives them (.env.example's values and test secrets),
 * as an unprivileged user as in the images: the migrations, the API, the search indexer, the
 * storefront, and the commands an operator runs (seed, keys).
 *
 * Replaced, and only these: the compose network's addresses by this machine's (PostgreSQL is a
 * fresh embedded server; Meilisearch is the in-process STAND-IN of @catalogue/testing, not a real
 * Meilisearch), and the ports by free ones. A runtime dependency missing from package.json, a file
 * the Dockerfile forgets to copy, a setting compose gets wrong: each fails here first.
 */

const UNPRIVILEGED = { uid: 65534, gid: 65534 }; // nobody: the images run as `node`, not root
const asRoot = process.getuid?.() === 0;

interface Running {
  child: ChildProcess;
  output: () => string;
  stdout: () => string;
  exited: Promise<number | string>;
}

describe('the production install (Dockerfile + docker-compose.yml), outside a container', () => {
  let work: string;
  let dockerfile: Dockerfile;
  let compose: Compose;
  let variables: Record<string, string>;
  const images = {} as Record<'api' | 'web', ImageCopy & { dir: string }>;
  let home: string;
  let postgres: Postgres | undefined;
  let databaseUrl: string;
  let standIn: MeiliStandIn;
  const running = new Map<string, Running>();
  const ports = { api: 0, web: 0 };
  let api: string;
  let web: string;
  let wallSeconds = 0;

  const service = (name: string): ComposeService => {
    const found = compose.services[name];
    if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
    return found;
  };

  /** A service's process environment: the image's ENV, then compose's, then this machine's addresses. */
  const environment = (image: ImageCopy, name: string, local: Record<string, string>): Record<string, string> => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    ...image.env,
    ...Object.fromEntries(Object.entries(service(name).environment ?? {}).map(([k, v]) => [k, String(v)])),
    ...local,
  });
  const apiLocal = () => ({ DATABASE_URL: databaseUrl, MEILISEARCH_URL: standIn.url });
  const env = {
    migrate: () => environment(images.api, 'migrate', apiLocal()),
    // Its metrics on a port of this machine's choosing (compose's 9464 may be taken here).
    indexer: () => environment(images.api, 'indexer', { ...apiLocal(), API_HOST: '127.0.0.1', METRICS_PORT: '0' }),
    api: () => environment(images.api, 'api', { ...apiLocal(), API_HOST: '127.0.0.1', API_PORT: String(ports.api) }),
    web: () =>
      environment(images.web, 'web', { API_URL: api, HOST: '127.0.0.1', PORT: String(ports.web), ORIGIN: web }),
  };

  /** Starts `argv` (`node` meaning this Node.js) in `cwd`, as the unprivileged user when we are root. */
  const start = (name: string, cwd: string, argv: string[], environment: Record<string, string>): Running => {
    const [program = '', ...args] = argv;
    const child = spawn(program === 'node' ? process.execPath : program, args, {
      cwd,
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(asRoot ? UNPRIVILEGED : {}),
    });
    let output = '';
    let stdout = '';
    child.stdout?.on('data', (chunk) => ((output += chunk), (stdout += chunk)));
    child.stderr?.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    const proc = { child, output: () => output, stdout: () => stdout, exited };
    running.set(name, proc);
    return proc;
  };
  const runToEnd = async (name: string, cwd: string, argv: string[], environment: Record<string, string>) => {
    const proc = start(name, cwd, argv, environment);
    const code = await proc.exited;
    running.delete(name);
    return { code, output: proc.output(), stdout: proc.stdout() };
  };
  const commandOf = (name: string, image: ImageCopy) => service(name).command ?? image.cmd;
  const healthcheck = (name: string) => {
    const [form, ...argv] = service(name).healthcheck?.test ?? [];
    if (form !== 'CMD') throw new Error(`${name}: the test runs CMD health checks only, not ${form}`);
    return argv;
  };

  beforeAll(async () => {
    const started = performance.now();
    work = await mkdtemp(join(tmpdir(), 'catalogue-deploy-'));
    await chmod(work, 0o755);
    home = join(work, 'home');
    await mkdir(home);
    if (asRoot) await chown(home, UNPRIVILEGED.uid, UNPRIVILEGED.gid);

    dockerfile = parseDockerfile(await readRepoFile(repoRoot, 'Dockerfile'));
    const ignore = await readRepoFile(repoRoot, '.dockerignore');
    // .env as a user writes it from .env.example: its values, and secrets of their own.
    variables = parseEnvFile(await readRepoFile(repoRoot, '.env.example'));
    for (const secret of ['POSTGRES_PASSWORD', 'MEILI_MASTER_KEY', 'CURSOR_SECRET', 'METRICS_TOKEN']) {
      expect(variables[secret], `${secret} in .env.example`).toBe('');
      variables[secret] = randomBytes(32).toString('hex');
    }
    compose = readCompose(await readRepoFile(repoRoot, 'docker-compose.yml'), variables);

    const copy = async (name: 'api' | 'web') => {
      const target = service(name).build?.target;
      if (!target) throw new Error(`docker-compose.yml: the ${name} service builds no Dockerfile target`);
      const dir = join(work, name);
      await mkdir(dir);
      const built = { '/app/web/build': join(repoRoot, 'web/build') };
      images[name] = { ...(await buildImage(dockerfile, target, { context: repoRoot, dir, ignore, built })), dir };
    };
    const server = async () => {
      postgres = await startPostgres(join(work, 'postgres'));
      databaseUrl = postgres.url;
    };
    // Meilisearch's master key, as compose hands it to the API and the indexer.
    standIn = new MeiliStandIn({ key: variables.MEILI_MASTER_KEY });
    await Promise.all([copy('api'), copy('web'), server(), standIn.start()]);
    [ports.api, ports.web] = [await freePort(), await freePort()];
    api = `http://127.0.0.1:${ports.api}`;
    web = `http://127.0.0.1:${ports.web}`;
    wallSeconds = (performance.now() - started) / 1000;
  });

  afterAll(async () => {
    for (const proc of running.values()) proc.child.kill('SIGKILL');
    await Promise.all([...running.values()].map((proc) => proc.exited));
    await standIn?.stop();
    await postgres?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`deploy test: copies installed and services ready in ${wallSeconds.toFixed(1)} s`);
  });

  it('runs on the Node.js and npm majors the Dockerfile pins', async () => {
    const npm = await runToEnd('npm --version', work, ['npm', '--version'], { PATH: process.env.PATH!, HOME: home });
    expect(process.versions.node.split('.')[0]).toBe(dockerfile.args.NODE_VERSION?.split('.')[0]);
    expect(npm.stdout.trim().split('.')[0]).toBe(dockerfile.args.NPM_VERSION?.split('.')[0]);
  });

  it('copies what the images need and nothing else: no tests, no sources of the build, no dev dependencies', async () => {
    expect(images.api.runs.map((r) => r.command)).toEqual([expect.stringMatching(/^npm ci --omit=dev\b/)]);
    expect(images.web.runs.map((r) => r.command)).toEqual([expect.stringMatching(/^npm ci --omit=dev\b/)]);
    expect((await readdir(images.api.dir)).sort()).toEqual(
      ['.npmrc', 'api', 'migrations', 'node_modules', 'package-lock.json', 'package.json', 'web'].sort(),
    );
    expect((await readdir(join(images.api.dir, 'api'))).sort()).toEqual(['package.json', 'src']);
    expect((await readdir(join(images.web.dir, 'web'))).sort()).toEqual(
      expect.arrayContaining(['build', 'package.json']),
    );
    expect(await readdir(join(images.web.dir, 'web'))).not.toContain('src');
    for (const dir of [images.api.dir, images.web.dir]) {
      const installed = await readdir(join(dir, 'node_modules'));
      for (const dev of ['vitest', 'vite', 'typescript', 'drizzle-kit', 'eslint', '@sveltejs']) {
        expect(installed, `${dev} in ${dir}`).not.toContain(dev);
      }
    }
    // Both images run as an unprivileged user.
    expect([images.api.user, images.web.user]).toEqual(['node', 'node']);
    for (const run of [...images.api.runs, ...images.web.runs])
      console.log(`${run.command}: ${run.seconds.toFixed(1)} s`);
  });

  it('wires the services by names compose defines, and publishes only the storefront and the API', () => {
    const host = (url: string) => new URL(url).hostname;
    const apiEnv = service('api').environment!;
    expect(host(apiEnv.DATABASE_URL!)).toBe('postgres');
    expect(host(apiEnv.MEILISEARCH_URL!)).toBe('meilisearch');
    expect(service('postgres')).toBeDefined();
    expect(service('meilisearch')).toBeDefined();
    // The storefront reaches the API by an alias on a network both join.
    const apiUrl = new URL(service('web').environment!.API_URL!);
    const shared = Object.keys(service('web').networks ?? {}).filter((network) =>
      service('api').networks?.[network]?.aliases?.includes(apiUrl.hostname),
    );
    expect(shared).not.toEqual([]);
    expect(apiUrl.port).toBe(apiEnv.API_PORT);
    // The indexer service drains the outbox; the API does not.
    expect(apiEnv.SEARCH_INDEXER).toBe('off');
    expect(service('indexer').environment?.SEARCH_INDEXER).toBeUndefined();
    const published = Object.entries(compose.services)
      .filter(([, s]) => s.ports?.length)
      .map(([name, s]) => [name, s.ports!.map((p) => p.split(':').at(-1))]);
    expect(published).toEqual([
      ['api', [apiEnv.API_PORT]],
      ['web', [service('web').environment!.PORT]],
    ]);
    // Migrations first: the API and the indexer wait for them to succeed.
    for (const name of ['api', 'indexer']) {
      expect(service(name).depends_on?.migrate?.condition).toBe('service_completed_successfully');
    }
  });

  it('applies the migrations with the migrate service, once, before anything serves', async () => {
    const migrate = await runToEnd('migrate', images.api.dir, commandOf('migrate', images.api), env.migrate());
    expect(migrate.code, migrate.output).toBe(0);
    expect(migrate.output).toContain('migrated DATABASE_URL');
    const journal = JSON.parse(await readRepoFile(repoRoot, 'migrations/meta/_journal.json')) as { entries: unknown[] };
    const rows = await query<{ n: number }>(databaseUrl, 'SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations');
    expect(rows[0]?.n).toBe(journal.entries.length);
  });

  it('seeds a demo catalogue with the command the README gives (inside the API image)', async () => {
    const seed = await runToEnd(
      'seed',
      images.api.dir,
      ['npm', 'run', '-s', 'seed', '--', '--products', '60'],
      env.api(),
    );
    expect(seed.code, seed.output).toBe(0);
    expect(seed.output).toMatch(/seeded 60 products/);
  });

  it('starts the API from its image command: healthy, ready, and its compose health check passes', async () => {
    const proc = start('api', images.api.dir, images.api.cmd, env.api());
    await waitFor(`${api}/readyz`, 90_000, proc);
    expect((await fetch(`${api}/healthz`)).status).toBe(200);
    expect((await fetch(`${api}/readyz`)).status).toBe(200);
    const check = await runToEnd('api healthcheck', images.api.dir, healthcheck('api'), env.api());
    expect(check.code, check.output).toBe(0);
    // The check can fail: nothing listens on this port.
    const closed = { ...env.api(), API_PORT: String(await freePort()) };
    expect((await runToEnd('api healthcheck', images.api.dir, healthcheck('api'), closed)).code).toBe(1);
  });

  it('starts the indexer command, whose compose health check passes', async () => {
    const indexer = start('indexer', images.api.dir, commandOf('indexer', images.api), env.indexer());
    for (let tries = 0; !indexer.output().includes('until SIGTERM') && tries < 300; tries += 1) {
      if (indexer.child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(indexer.output()).toContain('until SIGTERM');
    // Its metrics, behind the token compose gives it.
    const metricsUrl = /metrics at (http:\/\/\S+)/.exec(indexer.output())?.[1];
    expect(metricsUrl, indexer.output()).toBeDefined();
    expect((await fetch(metricsUrl!)).status).toBe(401);
    const scraped = await fetch(metricsUrl!, { headers: { authorization: `Bearer ${env.indexer().METRICS_TOKEN}` } });
    expect(await scraped.text()).toContain('catalogue_search_indexer_failures_total 0');
    const check = await runToEnd('indexer healthcheck', images.api.dir, healthcheck('indexer'), env.indexer());
    expect(check.code, check.output).toBe(0);
    // The check can fail: a database it cannot read.
    const elsewhere = { ...env.indexer(), DATABASE_URL: postgres!.urlFor('postgres') };
    expect((await runToEnd('indexer healthcheck', images.api.dir, healthcheck('indexer'), elsewhere)).code).toBe(1);
  });

  it('starts the storefront from its image command, whose compose health check passes', async () => {
    const proc = start('web', images.web.dir, images.web.cmd, env.web());
    await waitFor(`${web}/`, 60_000, proc);
    const check = await runToEnd('web healthcheck', images.web.dir, healthcheck('web'), env.web());
    expect(check.code, check.output).toBe(0);
    const closed = { ...env.web(), PORT: String(await freePort()) };
    expect((await runToEnd('web healthcheck', images.web.dir, healthcheck('web'), closed)).code).toBe(1);
  });

  it('a product made through the API with a key from `npm run keys` reaches Meilisearch through the indexer process, and the storefront shows it', async () => {
    const keys = await runToEnd(
      'keys',
      images.api.dir,
      ['npm', 'run', '-s', 'keys', '--', 'create', '--name', 'deploy test', '--scopes', 'catalog:write'],
      env.api(),
    );
    expect(keys.code, keys.output).toBe(0);
    const key = keys.stdout.trim().split('\n').at(-1)!;

    type Search = { engine: string; hits: { id: number }[] };
    const search = async (q: string) =>
      (await (await fetch(`${api}/v1/search?q=${encodeURIComponent(q)}`)).json()) as Search;
    // The API built the index from the seeded catalogue at start; from then on, changes reach it
    // only through the outbox, which the indexer process alone drains (SEARCH_INDEXER=off).
    await until('the API searches Meilisearch', async () => (await search('a')).engine === 'meilisearch');

    const { data: categories } = (await (await fetch(`${api}/v1/categories`)).json()) as { data: { slug: string }[] };
    const response = await fetch(`${api}/v1/products`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        sku: 'DEPLOY-1',
        slug: 'wombat-deploy-kettle',
        name: 'Wombat deploy kettle',
        category: categories.at(-1)!.slug,
        price: { amount: 2599, currency: 'EUR' },
        status: 'active',
        stock: 3,
      }),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    const product = (await response.json()) as { id: number };

    await until('the product is in the index', async () => standIn.documents('products').has(String(product.id)));
    const found = await search('wombat');
    expect(found.engine).toBe('meilisearch');
    expect(found.hits.map((hit) => hit.id)).toEqual([product.id]);

    const page = await fetch(`${web}/p/wombat-deploy-kettle`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Wombat deploy kettle');
    const results = await (await fetch(`${web}/search?q=wombat`)).text();
    expect(results).toContain(`data-product-id="${product.id}"`);
    expect(standIn.violations).toEqual([]);
  });

  it('stops every service on SIGTERM (the images’ STOPSIGNAL), with exit code 0', async () => {
    for (const name of ['web', 'indexer', 'api']) {
      const proc = running.get(name)!;
      proc.child.kill('SIGTERM');
      expect(await proc.exited, `${name}:\n${proc.output()}`).toBe(0);
      running.delete(name);
    }
  });
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
