/**
 * A request that failed because the database went away must not keep its
 * Idempotency-Key reserved once the database is back: the client was told
 * to retry, and the retry must run again (api/README: "a refusal or a
 * failure forgets the key"), not hear 409 idempotency_in_progress until the
 * reservation counts as abandoned minutes later.
 */
import crypto from 'node:crypto';

import { type Reply, withIdempotency } from '../../api/idempotency';
import { Problem } from '../../api/problem';
import { type Database, openDatabase } from '../../db/connection';
import { type PgProxy, startPgProxy } from './pg-proxy';

let proxy: PgProxy;
let database: Database;

beforeAll(async () => {
  const url = new URL(process.env.TEST_DATABASE_URL!);
  proxy = await startPgProxy({ host: url.hostname, port: Number(url.port || 5432) });
  database = await openDatabase({ url: proxy.urlFor(url.toString()), poolSize: 2 });
});

afterAll(async () => {
  await database?.close();
  await proxy?.close();
});

/** The client's loop: retry while the key is "in progress", as Retry-After says, for at most `ms`. */
async function retryWhileInProgress(
  run: () => Promise<Reply>,
  ms: number,
): Promise<{ reply: Reply; inProgress: number }> {
  const deadline = Date.now() + ms;
  let inProgress = 0;
  for (;;) {
    try {
      return { reply: await run(), inProgress };
    } catch (err) {
      if (!(err instanceof Problem && err.code === 'idempotency_in_progress') || Date.now() > deadline) throw err;
      inProgress++;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

test('a request that failed with the database away frees its key once the database is back', async () => {
  const scope = `test:${crypto.randomUUID()}`;
  const key = crypto.randomUUID();
  const failing = withIdempotency(database.db, scope, key, 'same-request', async () => {
    await proxy.cut();
    throw new Error('the database went away');
  });
  await expect(failing).rejects.toThrow('the database went away');
  await new Promise((r) => setTimeout(r, 1_000));
  await proxy.restore();

  const { reply } = await retryWhileInProgress(
    () =>
      withIdempotency(database.db, scope, key, 'same-request', async () => ({ status: 201, body: { ran: 'again' } })),
    20_000,
  );
  expect(reply).toEqual({ status: 201, body: { ran: 'again' } });
});

test('a success whose answer could not be stored frees its key too: the retry runs the (idempotent) request again and its answer is kept', async () => {
  const scope = `test:${crypto.randomUUID()}`;
  const key = crypto.randomUUID();
  const lost = withIdempotency(database.db, scope, key, 'same-request', async () => {
    await proxy.cut();
    return { status: 201, body: { run: 1 } };
  });
  await expect(lost).rejects.toThrow();
  await new Promise((r) => setTimeout(r, 1_000));
  await proxy.restore();

  const { reply } = await retryWhileInProgress(
    () => withIdempotency(database.db, scope, key, 'same-request', async () => ({ status: 201, body: { run: 2 } })),
    20_000,
  );
  expect(reply).toEqual({ status: 201, body: { run: 2 } });
  const replayed = await withIdempotency(database.db, scope, key, 'same-request', async () => ({
    status: 201,
    body: { run: 3 },
  }));
  expect(replayed).toEqual({ status: 201, body: { run: 2 }, headers: { 'Idempotent-Replayed': 'true' } });
});
