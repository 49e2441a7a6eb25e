import { execFile } from 'node:child_process';
import { chmod, cp, readFile, readdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';

/**
 * What a Docker image holds and runs, read from the repository's Dockerfile, .dockerignore and
 * docker-compose.yml, and rebuilt outside a container: the deploy test installs and starts exactly
 * that, so that it cannot drift from the files a user's `docker compose up` reads.
 *
 * Only the forms those files use are understood; anything else is refused with an error naming
 * it, rather than skipped: a new kind of instruction must be taught here before the test passes.
 */

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** Global ARGs (before the first FROM) with their defaults. */
  args: Record<string, string>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    // A backslash before the line break continues the instruction.
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)\s+AS\s+(\S+)$/i.exec(rest) ?? [];
      if (!name) throw new Error(`Dockerfile: every stage needs a name (FROM image AS name): ${line}`);
      stages.push({ name, from, instructions: [] });
    } else if (stages.length === 0) {
      if (upper !== 'ARG') throw new Error(`Dockerfile: only ARG may come before FROM: ${line}`);
      const [name = '', value = ''] = rest.split('=');
      args[name] = value;
    } else {
      stages.at(-1)!.instructions.push({ keyword: upper, args: rest });
    }
  }
  return { args, stages };
}

/** The target stage and the stages it is built FROM, the first one first. */
export function stageChain(dockerfile: Dockerfile, target: string): Stage[] {
  const chain: Stage[] = [];
  for (let stage = dockerfile.stages.find((s) => s.name === target); stage;) {
    chain.unshift(stage);
    const from = stage.from;
    stage = dockerfile.stages.find((s) => s.name === from);
  }
  if (chain.length === 0) throw new Error(`Dockerfile: no stage named ${target}`);
  return chain;
}

/**
 * .dockerignore's rules as a filter on paths relative to the context: `*`, `?` and `**` patterns,
 * `!` exceptions, the last matching rule winning, and a rule matching a folder matching everything
 * in it (https://docs.docker.com/build/concepts/context/#dockerignore-files).
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = posix.normalize(line.slice(include ? 1 : 0).replace(/^\/+/, '')).replace(/\/$/, '');
      const source = pattern
        .split(/(\*\*|\*|\?)/)
        .map((part) =>
          part === '**'
            ? '.*'
            : part === '*'
              ? '[^/]*'
              : part === '?'
                ? '[^/]'
                : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        )
        .join('');
      return { include, regex: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let included = true;
    for (const rule of rules) if (prefixes.some((prefix) => rule.regex.test(prefix))) included = rule.include;
    return included;
  };
}

async function filesUnder(root: string, relative: string): Promise<string[]> {
  const info = await stat(join(root, relative)).catch(() => undefined);
  if (!info) return [];
  if (!info.isDirectory()) return [relative];
  const entries = await readdir(join(root, relative));
  return (await Promise.all(entries.map((entry) => filesUnder(root, posix.join(relative, entry))))).flat();
}

export interface ImageCopy {
  /** The image's ENV, in order. */
  env: Record<string, string>;
  /** CMD (exec form). */
  cmd: string[];
  user: string | undefined;
  /** What each RUN that was repeated here cost. */
  runs: { command: string; seconds: number }[];
}

/**
 * Builds the final stage `target` into `dir` (its WORKDIR) as Docker would, outside a container:
 * each COPY from the context through .dockerignore, each `RUN npm ci ...` run in `dir`. A
 * `COPY --from=<stage>` takes what that stage made from the same sources, which `built` names
 * (the path in that stage, to the path in this repository that the tests' own build produced).
 * The RUN that sets up the operating system (apt-get: tini, npm itself) is the machine's business
 * here; the test compares the versions.
 */
export async function buildImage(
  dockerfile: Dockerfile,
  target: string,
  { context, dir, ignore, built }: { context: string; dir: string; ignore: string; built: Record<string, string> },
): Promise<ImageCopy> {
  const included = dockerignore(ignore);
  const image: ImageCopy = { env: {}, cmd: [], user: undefined, runs: [] };
  await chmod(dir, 0o755);
  for (const stage of stageChain(dockerfile, target)) {
    for (const { keyword, args } of stage.instructions) {
      if (keyword === 'COPY') {
        const words = args.split(/\s+/);
        const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
        if (words.some((word) => word.startsWith('--') && !word.startsWith('--from=')))
          throw new Error(`Dockerfile: COPY option not understood here: ${args}`);
        const paths = words.filter((word) => !word.startsWith('--'));
        const destination = paths.pop()!;
        const intoFolder = destination.endsWith('/') || paths.length > 1;
        for (const source of paths) {
          let files: string[];
          let root = context;
          let base = posix.normalize(source).replace(/\/$/, '');
          if (from) {
            const repoPath = built[source];
            if (!repoPath) throw new Error(`Dockerfile: COPY --from=${from} ${source}: the test knows no build of it`);
            root = repoPath;
            base = '.';
            files = await filesUnder(root, base);
          } else {
            files = (await filesUnder(root, base)).filter((file) => included(file));
          }
          if (files.length === 0)
            throw new Error(`Dockerfile: COPY ${source}: nothing in the context (.dockerignore?)`);
          const isFolder = (await stat(join(root, base))).isDirectory();
          for (const file of files) {
            // A folder's contents go into the destination; a file goes into it, or becomes it.
            const name = isFolder ? posix.relative(base, file) : intoFolder ? posix.basename(file) : '';
            await cp(join(root, file), join(dir, destination, name), { preserveTimestamps: true });
          }
        }
      } else if (keyword === 'RUN') {
        const command = args.replace(/^(--\S+\s+)+/, '');
        if (/^npm ci(\s|$)/.test(command)) {
          const started = performance.now();
          // The environment of a build: no npm_config_* inherited from the `npm test` around us.
          const env = { PATH: process.env.PATH, HOME: process.env.HOME };
          await promisify(execFile)('sh', ['-c', command], { cwd: dir, env });
          image.runs.push({ command, seconds: (performance.now() - started) / 1000 });
        } else if (!/^apt-get update\b/.test(command)) {
          throw new Error(`Dockerfile: the test cannot repeat RUN ${command}`);
        }
      } else if (keyword === 'ENV') {
        for (const [, name = '', value = ''] of args.matchAll(/(\w+)=(\S*)/g)) image.env[name] = value;
      } else if (keyword === 'CMD') {
        image.cmd = JSON.parse(args) as string[];
      } else if (keyword === 'USER') {
        image.user = args;
      } else if (!['ARG', 'WORKDIR', 'EXPOSE', 'STOPSIGNAL', 'ENTRYPOINT', 'LABEL'].includes(keyword)) {
        throw new Error(`Dockerfile: instruction not understood here: ${keyword} ${args}`);
      }
    }
  }
  return image;
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

export interface ComposeService {
  image?: string;
  build?: { context: string; target: string };
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  ports?: string[];
  networks?: Record<string, { aliases?: string[] } | null>;
  depends_on?: Record<string, { condition: string }>;
}

export interface Compose {
  services: Record<string, ComposeService>;
}

/** `.env` lines (NAME=value) as a map; comments and blank lines skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/**
 * Compose's interpolation (https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/):
 * `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`, `$$`.
 */
export function interpolate(text: string, variables: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (whole, name: string | undefined, colon: string, kind: string, operand: string) => {
      if (whole === '$$') return '$';
      const value = variables[name!];
      const missing = value === undefined || (colon === ':' && value === '');
      if (kind === '?' && missing) throw new Error(`docker-compose.yml: ${name} is required: ${operand}`);
      if (kind === '-' && missing) return operand;
      return value ?? '';
    },
  );
}

/** docker-compose.yml as Compose reads it: merge keys applied, every string interpolated. */
export function readCompose(text: string, variables: Record<string, string | undefined>): Compose {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return interpolate(value, variables);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, walk(inner)]));
    }
    return value;
  };
  return walk(parse(text, { merge: true })) as Compose;
}

export async function readRepoFile(root: string, path: string): Promise<string> {
  return readFile(join(root, path), 'utf8');
}
