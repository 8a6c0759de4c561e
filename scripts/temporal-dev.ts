/**
 * `npm run temporal`: a Temporal dev server in the foreground, for running the
 * API and worker by hand (the provisioning itself is temporal/dev-server.ts).
 *
 *   npx tsx scripts/temporal-dev.ts            start a dev server in the foreground (Ctrl-C stops it)
 *   npx tsx scripts/temporal-dev.ts --ensure   make sure a `temporal` CLI exists and print its path
 *
 * Env: as temporal/dev-server.ts, and LW_DATA_DIR (the server's data dir, default .data).
 */
import * as path from 'node:path';

import { env } from '../lib/go-install';
import { ensureTemporalCli, startTemporalDevServer } from '../temporal/dev-server';

function argValue(argv: string[], flag: string): number | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 && argv[i + 1] ? Number(argv[i + 1]) : undefined;
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--ensure')) {
    process.stdout.write(`${await ensureTemporalCli()}\n`);
    return;
  }
  if (env('TEMPORAL_ADDRESS')) {
    console.log(`TEMPORAL_ADDRESS is set (${env('TEMPORAL_ADDRESS')}): nothing to start.`);
    return;
  }
  const dataDir = env('LW_DATA_DIR') ?? '.data';
  const server = await startTemporalDevServer({
    dataDir,
    port: argValue(argv, '--port'),
    uiPort: argValue(argv, '--ui-port'),
    headless: argv.includes('--headless'),
    onUnexpectedExit: (code, signal) => {
      console.error(`Temporal dev server exited on its own (code ${code}, signal ${signal}).`);
      process.exit(1);
    },
  });
  console.log(`Temporal dev server running (pid ${server.pid}, data in ${path.resolve(dataDir)})`);
  console.log(`  address: ${server.address}   (export TEMPORAL_ADDRESS=${server.address})`);
  console.log(`  UI:      ${server.uiUrl ?? 'none (headless)'}`);
  console.log('Press Ctrl-C to stop.');

  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('Stopping the Temporal dev server…');
    server.stop().then(
      () => {
        console.log('Stopped.');
        process.exit(0);
      },
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
