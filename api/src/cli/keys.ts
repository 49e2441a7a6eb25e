/**
 * `npm run -s keys -- <command>`: manage API keys in the database at DATABASE_URL, or in the
 * embedded one under DATA_DIR (the running API's server, if it is up).
 *
 *   create --name NAME --scopes stock:write,catalog:write   prints the key once, alone on the last line
 *   list                                                     one line per key (never the secret)
 *   revoke --id N | --prefix PREFIX
 */
import { parseArgs } from 'node:util';
import { KeyRepository } from '../auth/keys.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { SCOPES, type Scope } from '../db/schema.ts';
import { openRuntime } from '../runtime.ts';

const USAGE = `usage: npm run -s keys -- create --name NAME --scopes ${SCOPES.join(',')}
       npm run -s keys -- list
       npm run -s keys -- revoke --id N | --prefix PREFIX`;

class UsageError extends Error {}

function parseScopes(text: string | undefined): Scope[] {
  const scopes = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `--scopes must list one or more of ${SCOPES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`,
    );
  }
  return scopes as Scope[];
}

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scopes: { type: 'string' },
      id: { type: 'string' },
      prefix: { type: 'string' },
    },
  });
  const [command] = positionals;
  if (!command || !['create', 'list', 'revoke'].includes(command)) throw new UsageError(USAGE);
  if (command === 'create' && !values.name?.trim()) throw new UsageError('create needs --name');
  const scopes = command === 'create' ? parseScopes(values.scopes) : [];
  if (command === 'revoke' && !values.id === !values.prefix) throw new UsageError('revoke needs --id or --prefix');

  const runtime = await openRuntime(loadConfig(), {
    info: () => undefined,
    warn: console.error,
    debug: () => undefined,
  });
  try {
    const keys = new KeyRepository(runtime.database.db);
    if (command === 'create') {
      const key = await keys.create(values.name!.trim(), scopes);
      console.error(
        `created key ${key.id} '${key.name}' (prefix ${key.prefix}, scopes ${key.scopes.join(',')}); it is shown once:`,
      );
      console.log(key.secret);
    } else if (command === 'list') {
      for (const key of await keys.list()) {
        const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active';
        const used = key.lastUsedAt ? key.lastUsedAt.toISOString() : 'never';
        console.log(
          `${key.id}\t${key.prefix}\t${key.name}\t${key.scopes.join(',')}\tcreated ${key.createdAt.toISOString()}\tlast used ${used}\t${state}`,
        );
      }
    } else {
      const target = values.id !== undefined ? Number(values.id) : values.prefix!;
      if (typeof target === 'number' && !Number.isSafeInteger(target)) throw new UsageError('--id must be a number');
      if (!(await keys.revoke(target))) throw new UsageError(`no active key ${values.id ?? values.prefix}`);
      console.log(`revoked ${values.id ?? values.prefix}`);
    }
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError || error instanceof ConfigError ? error.message : error);
  process.exitCode = error instanceof UsageError ? 64 : 1;
});
