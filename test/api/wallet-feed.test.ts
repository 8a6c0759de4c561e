/**
 * `wallet.changed` on the buyer's feed (#21): the ledger trigger NOTIFYs every entry on `leadwire_wallet`; the
 * bus hears it on both drivers (Postgres: the feed's LISTEN connection; PGlite: its own `listen()`), and the
 * gateways send the buyer's sockets – and only that buyer's – the new balance and the entry.
 */
import { randomUUID } from 'node:crypto';

import type { Pool } from 'pg';

import { createApiKey } from '../../db/keys';
import { postLedgerEntry } from '../../db/ledger';
import { createInProcessBus, createPostgresBus, type OfferBus, type WalletChange } from '../../db/offer-bus';
import { DRIVERS } from '../helpers/db';
import { makeAgency, makeBuyer } from '../helpers/world';
import { apiAgency, apiBuyer, apiClient, connectFeed, expectStatus, type Harness, startHarness } from './harness';

describe.each(DRIVERS)('the bus hears the ledger trigger on %s', (driver, open) => {
  test('every entry of every wallet, with its balance, after its transaction commits', async () => {
    const database = await open();
    const bus: OfferBus =
      driver === 'postgres'
        ? createPostgresBus(database.url!, database.raw as Pool)
        : createInProcessBus({ pglite: database.raw as import('@electric-sql/pglite').PGlite });
    try {
      const heard: WalletChange[] = [];
      let wake: () => void = () => undefined;
      const stop = bus.onWallet!((c) => {
        heard.push(c);
        wake();
      });
      await bus.ready();
      const agency = await makeAgency(database.db);
      const buyer = await makeBuyer(database.db, agency.id);
      const until = (n: number) =>
        new Promise<void>((resolve) => {
          wake = () => heard.filter((c) => c.buyerId === buyer.id).length >= n && resolve();
          wake();
        });
      const top = await postLedgerEntry(database.db, {
        buyerId: buyer.id,
        agencyId: agency.id,
        kind: 'top_up',
        amount: 30,
        idempotencyKey: `test:${randomUUID()}`,
      });
      // An entry inside a transaction that rolls back tells nobody.
      await database.db
        .transaction(async (tx) => {
          await postLedgerEntry(tx, {
            buyerId: buyer.id,
            agencyId: agency.id,
            kind: 'top_up',
            amount: 1000,
            idempotencyKey: `test:${randomUUID()}`,
          });
          throw new Error('rolled back');
        })
        .catch(() => undefined);
      const charge = await postLedgerEntry(database.db, {
        buyerId: buyer.id,
        agencyId: agency.id,
        kind: 'charge',
        amount: -12,
        idempotencyKey: `test:${randomUUID()}`,
      });
      await until(2);
      const mine = heard.filter((c) => c.buyerId === buyer.id);
      expect(mine).toEqual([
        {
          buyerId: buyer.id,
          agencyId: agency.id,
          balance: 30,
          entry: { id: top.entry.id, kind: 'top_up', amount: 30, at: top.entry.createdAt.toISOString() },
        },
        {
          buyerId: buyer.id,
          agencyId: agency.id,
          balance: 18,
          entry: { id: charge.entry.id, kind: 'charge', amount: -12, at: charge.entry.createdAt.toISOString() },
        },
      ]);
      stop();
    } finally {
      await bus.close();
      await database.close();
    }
  });
});

describe('wallet.changed on the feed', () => {
  let h: Harness;
  beforeAll(async () => {
    // Postgres LISTEN/NOTIFY, as in a deployment of several processes.
    h = await startHarness({ bus: 'postgres' });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('two open feeds of one buyer both hear a top-up and a charge; another buyer hears nothing of them', async () => {
    const { agency, adminKey } = await apiAgency(h);
    const { buyer, apiKey } = await apiBuyer(h, adminKey);
    const { buyer: other, apiKey: otherKey } = await apiBuyer(h, adminKey);
    const member = (
      await createApiKey(h.database.db, { kind: 'buyer', agencyId: agency.id, buyerId: buyer.id, role: 'member' })
    ).key;
    // One socket on each of two API instances.
    const second = await h.startInstance();
    const feeds = [await connectFeed(h.main.wsUrl, apiKey), await connectFeed(second.wsUrl, member)];
    const otherFeed = await connectFeed(h.main.wsUrl, otherKey);
    for (const f of [...feeds, otherFeed]) await f.next((m) => m.type === 'snapshot');

    await expectStatus(
      'credits',
      201,
      apiClient(h, adminKey).POST('/v1/buyers/{id}/credits', {
        params: { path: { id: buyer.id } },
        body: { amount: 50 },
      }),
    );
    const charge = await postLedgerEntry(h.database.db, {
      buyerId: buyer.id,
      agencyId: agency.id,
      kind: 'charge',
      amount: -7,
      idempotencyKey: `test:${randomUUID()}`,
    });
    for (const f of feeds) {
      const top = await f.next((m) => m.type === 'wallet.changed' && m.balance === 50);
      expect(top).toEqual({
        type: 'wallet.changed',
        balance: 50,
        entry: { id: expect.any(String), kind: 'top_up', amount: 50, at: expect.any(String) },
      });
      const charged = await f.next((m) => m.type === 'wallet.changed' && m.balance === 43);
      expect(charged).toEqual({
        type: 'wallet.changed',
        balance: 43,
        entry: { id: charge.entry.id, kind: 'charge', amount: -7, at: charge.entry.createdAt.toISOString() },
      });
    }

    // The other buyer's own top-up, sent after: the first wallet.changed its socket hears is its own.
    await expectStatus(
      'credits',
      201,
      apiClient(h, adminKey).POST('/v1/buyers/{id}/credits', {
        params: { path: { id: other.id } },
        body: { amount: 5 },
      }),
    );
    await otherFeed.next((m) => m.type === 'wallet.changed');
    expect(otherFeed.messages.filter((m) => m.type === 'wallet.changed')).toEqual([
      { type: 'wallet.changed', balance: 5, entry: expect.objectContaining({ kind: 'top_up', amount: 5 }) },
    ]);
    for (const f of [...feeds, otherFeed]) await f.close();
    await second.close();
  });
});
