/**
 * stripe-mock (Stripe's official mock API server) for the payments tests and for trying the API by hand;
 * the provisioning itself is lib/stripe-mock.ts.
 *
 *   npx tsx scripts/stripe-mock.ts            start one in the foreground on a free port (Ctrl-C stops it)
 *   npx tsx scripts/stripe-mock.ts --ensure   make sure the pinned stripe-mock is built (cached) and print its path
 */
import { ensureStripeMock, startStripeMock, STRIPE_MOCK_KEY, STRIPE_MOCK_VERSION } from '../lib/stripe-mock';

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--ensure')) {
    const started = Date.now();
    const binary = await ensureStripeMock();
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(`stripe-mock ${STRIPE_MOCK_VERSION} ready in ${secs}s\n`);
    process.stdout.write(`${binary}\n`);
    return;
  }
  const mock = await startStripeMock();
  console.log(`stripe-mock ${STRIPE_MOCK_VERSION} running (pid ${mock.pid}) at ${mock.url}`);
  console.log(`  e.g. curl ${mock.url}/v1/balance -H 'Authorization: Bearer ${STRIPE_MOCK_KEY}'`);
  console.log('Press Ctrl-C to stop.');
  const shutdown = (): void => {
    mock.stop().then(
      () => process.exit(0),
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
