/**
 * Converts a memstorage 0.5.3 MongoDB collection to memstorage-next's layout, with a progress
 * bar (docs/mongo.md). Run from the repository:
 *
 *     node -r ts-node/register/transpile-only scripts/migrate-memstorage.ts --url mongodb://127.0.0.1:27017/app --collection cache
 *
 * The compiled package ships the same command as dist/lib/backends/mongo/migrate-cli.js.
 */
import { main } from '../lib/backends/mongo/migrate-cli';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
