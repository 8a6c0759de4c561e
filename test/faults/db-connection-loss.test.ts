/**
 * Losing the database mid-transaction fails that transaction, not the
 * process: a pooled client checked out for a transaction has no error
 * listener of node-postgres's own, and an unhandled 'error' event would take
 * the whole worker (or API) down with every sale in flight.
 */
import { sql } from 'drizzle-orm';

import { type Database, openDatabase } from '../../db/connection';
import { type PgProxy, startPgProxy } from './pg-proxy';

let proxy: PgProxy;
let database: Database;

beforeAll(async () => {
  const url = new URL(process.env.TEST_DATABASE_URL!);
  proxy = await startPgProxy({ host: url.hostname, port: Number(url.port || 5432) });
  database = await openDatabase({ url: proxy.urlFor(url.toString()), poolSize: 2, migrate: false });
});

afterAll(async () => {
  await database?.close();
  await proxy?.close();
});

test('a connection dropped while a transaction holds it rejects the transaction; the pool serves again once the database is back', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    let goOn!: () => void;
    const resume = new Promise<void>((r) => (goOn = r));
    const tx = database.db.transaction(async (t) => {
      await t.execute(sql`SELECT 1`);
      entered();
      await resume; // the client is checked out and idle, as between two statements of a sale
      await t.execute(sql`SELECT 2`);
    });
    tx.catch(() => undefined);
    await inside;
    await proxy.cut();
    await new Promise((r) => setTimeout(r, 300));
    goOn();
    await expect(tx).rejects.toThrow();
    await proxy.restore();
    const { rows } = (await database.db.execute(sql`SELECT 42 AS answer`)) as unknown as { rows: { answer: number }[] };
    expect(rows[0]!.answer).toBe(42);
    expect(uncaught).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});
