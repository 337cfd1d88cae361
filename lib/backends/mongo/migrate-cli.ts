#!/usr/bin/env node
/**
 * The one-command migration of a memstorage 0.5.3 collection (docs/mongo.md):
 *
 *     node scripts/migrate-memstorage.ts --url mongodb://host/db --collection cache
 *     node node_modules/memstorage-next/dist/lib/backends/mongo/migrate-cli.js --url ... --collection ...
 *
 * Options mirror the store's settings: --url, or memstorage's --host --port --hosts --user
 * --pass --replicaset; --db, --collection (collectionName), --namespace. Progress goes to
 * stderr (one updating line on a terminal, one line per batch otherwise); the exit code is 0
 * when every document was converted, 2 when some were left in place (listed), 1 on failure.
 *
 * Kept for the scripts that call it: the conversion is now a case of `memstorage-next copy`
 * (`copy --from memstorage-0.5.3+mongodb://h/db?collection=C --to mongodb://h/db?collection=C`,
 * docs/cli.md), and this command runs the same code (lib/cli/legacy-migration.ts).
 */
import { migrateInPlace } from '../../cli/legacy-migration';
import type { MongoSettings } from './settings';
import type { MigrationProgress } from './migrate';

const FLAGS: Record<string, keyof MongoSettings> = {
  '--url': 'url',
  '--host': 'host',
  '--port': 'port',
  '--hosts': 'hosts',
  '--user': 'user',
  '--pass': 'pass',
  '--replicaset': 'replicaset',
  '--db': 'db',
  '--collection': 'collectionName',
  '--collectionName': 'collectionName',
  '--namespace': 'namespace',
};

const USAGE = 'usage: migrate-memstorage (--url URL | --host H [--port P] | --hosts H1:P1,H2:P2) [--user U --pass P] [--replicaset R] [--db DB] --collection NAME [--namespace NS]';

/** Parses argv into store settings; throws with the usage line on a bad flag. */
export function parseArgs(argv: string[]): MongoSettings {
  const settings: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') throw new Error(USAGE);
    const name = FLAGS[flag];
    const value = argv[i + 1];
    if (!name || value === undefined) throw new Error(`unknown or incomplete option ${flag}\n${USAGE}`);
    settings[name] = name === 'port' ? Number(value) : value;
    i++;
  }
  return settings as MongoSettings;
}

function bar(p: MigrationProgress): string {
  const done = p.migrated + p.skipped;
  const pct = p.total === 0 ? 100 : Math.min(100, Math.floor((done / p.total) * 100));
  const width = 30;
  const filled = Math.round((pct / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}%  ${p.migrated} migrated, ${p.skipped} skipped, of ${p.total}`;
}

/** Runs the migration; resolves the process exit code. */
export async function main(argv: string[], err: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): Promise<number> {
  let settings: MongoSettings;
  try {
    settings = parseArgs(argv);
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 1;
  }
  try {
    const result = await migrateInPlace(settings, (p) => {
      err.write(err.isTTY ? `\r${bar(p)}` : `${bar(p)}\n`);
    });
    if (err.isTTY) err.write('\n');
    for (const { _id, reason } of result.errors) err.write(`left in place: _id ${JSON.stringify(_id)}: ${reason}\n`);
    err.write(`done: ${result.migrated} migrated, ${result.skipped} left in place (tagged legacyError)\n`);
    return result.skipped > 0 ? 2 : 0;
  } catch (e) {
    err.write(`\nmigration failed: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
