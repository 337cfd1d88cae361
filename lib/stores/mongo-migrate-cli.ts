#!/usr/bin/env node
// Moved to lib/backends/mongo/migrate-cli.ts; this path is kept for package.json's "bin" (memstorage-migrate) until it points there.
import { main } from '../backends/mongo/migrate-cli';

export * from '../backends/mongo/migrate-cli';

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
