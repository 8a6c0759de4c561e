/**
 * The data layer keeps the money rules by itself, identically on Postgres and
 * on PGlite: a bug in the code above cannot overdraw a wallet, charge twice or
 * sell an exclusive lead twice.
 */
import { eq, sql } from 'drizzle-orm';

import { createBuyer } from '../../db/buyers';
import { type Database, migrateDatabase } from '../../db/connection';
import { insertLead } from '../../db/leads';
import { InsufficientCreditsError, postLedgerEntry, topUp } from '../../db/ledger';
import { assignments, ledgerEntries, offers, wallets } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import { DRIVERS } from '../helpers/db';
import { leadFields, makeAgency, makeCampaign } from '../helpers/world';

describe.each(DRIVERS)('on %s', (_name, open) => {
  let database: Database;
  beforeAll(async () => {
    database = await open();
  });
  afterAll(async () => database?.close());

  async function buyerWith(credits: number) {
    const agency = await makeAgency(database.db);
    const buyer = await createBuyer(database.db, agency.id, { name: 'b', serviceLines: ['roofing'] });
    if (credits)
      await topUp(database.db, {
        buyerId: buyer.id,
        agencyId: agency.id,
        amount: credits,
        idempotencyKey: `seed-${buyer.id}`,
      });
    return { agency, buyer };
  }

  const entriesOf = async (buyerId: string) =>
    database.db.select().from(ledgerEntries).where(eq(ledgerEntries.buyerId, buyerId));
  const balanceOf = async (buyerId: string) =>
    (await database.db.select().from(wallets).where(eq(wallets.buyerId, buyerId)))[0].balance;

  test('a charge that would make a balance negative is refused and leaves nothing behind', async () => {
    const { agency, buyer } = await buyerWith(10);
    await expect(
      postLedgerEntry(database.db, {
        buyerId: buyer.id,
        agencyId: agency.id,
        kind: 'charge',
        amount: -11,
        idempotencyKey: `c-${buyer.id}`,
      }),
    ).rejects.toBeInstanceOf(InsufficientCreditsError);
    expect(await balanceOf(buyer.id)).toBe(10);
    expect(await entriesOf(buyer.id)).toHaveLength(1);
  });

  test('only a Stripe refund or dispute may take a wallet below zero; then no debit passes until it is back', async () => {
    const { agency, buyer } = await buyerWith(10);
    const entry = (kind: 'charge' | 'adjustment' | 'card_refund' | 'dispute', amount: number, key: string) =>
      postLedgerEntry(database.db, { buyerId: buyer.id, agencyId: agency.id, kind, amount, idempotencyKey: key });
    await expect(entry('adjustment', -11, `adj-${buyer.id}`)).rejects.toBeInstanceOf(InsufficientCreditsError);
    await entry('dispute', -25, `dp-${buyer.id}`);
    expect(await balanceOf(buyer.id)).toBe(-15);
    await entry('card_refund', -5, `re-${buyer.id}`);
    expect(await balanceOf(buyer.id)).toBe(-20);
    // A replayed key does nothing, even below zero.
    expect((await entry('dispute', -25, `dp-${buyer.id}`)).created).toBe(false);
    await expect(entry('charge', -1, `c-${buyer.id}`)).rejects.toBeInstanceOf(InsufficientCreditsError);
    await topUp(database.db, { buyerId: buyer.id, agencyId: agency.id, amount: 21, idempotencyKey: `t2-${buyer.id}` });
    expect(await balanceOf(buyer.id)).toBe(1);
    await entry('charge', -1, `c-${buyer.id}`);
    expect(await balanceOf(buyer.id)).toBe(0);
    const sum = (await entriesOf(buyer.id)).reduce((s, e) => s + e.amount, 0);
    expect(sum).toBe(0);
  });

  test('a repeated idempotency key creates no second entry and moves no credits', async () => {
    const { agency, buyer } = await buyerWith(0);
    const first = await topUp(database.db, {
      buyerId: buyer.id,
      agencyId: agency.id,
      amount: 30,
      idempotencyKey: `t-${buyer.id}`,
    });
    const again = await topUp(database.db, {
      buyerId: buyer.id,
      agencyId: agency.id,
      amount: 30,
      idempotencyKey: `t-${buyer.id}`,
    });
    expect(first.created).toBe(true);
    expect(again).toEqual({ entry: first.entry, created: false });
    expect(await balanceOf(buyer.id)).toBe(30);
  });

  test('the balance always equals the sum of the entries, and entries are append-only', async () => {
    const { agency, buyer } = await buyerWith(50);
    await postLedgerEntry(database.db, {
      buyerId: buyer.id,
      agencyId: agency.id,
      kind: 'charge',
      amount: -20,
      idempotencyKey: `c1-${buyer.id}`,
    });
    await postLedgerEntry(database.db, {
      buyerId: buyer.id,
      agencyId: agency.id,
      kind: 'refund',
      amount: 5,
      idempotencyKey: `r1-${buyer.id}`,
    });
    const entries = await entriesOf(buyer.id);
    expect(entries.reduce((s, e) => s + e.amount, 0)).toBe(await balanceOf(buyer.id));
    expect(await balanceOf(buyer.id)).toBe(35);
    await expect(
      database.db.update(ledgerEntries).set({ amount: 1000 }).where(eq(ledgerEntries.buyerId, buyer.id)),
    ).rejects.toThrow();
    await expect(database.db.delete(ledgerEntries).where(eq(ledgerEntries.buyerId, buyer.id))).rejects.toThrow();
    expect(await balanceOf(buyer.id)).toBe(35);
  });

  test('a second assignment of an exclusive lead is refused by the database, as is one winner too many', async () => {
    const db = database.db;
    const { agency, buyer } = await buyerWith(100);
    const other = await createBuyer(db, agency.id, { name: 'o', serviceLines: ['roofing'] });
    await topUp(db, { buyerId: other.id, agencyId: agency.id, amount: 100, idempotencyKey: `seed-${other.id}` });
    const campaign = await makeCampaign(db, agency.id);
    const lead = await insertLead(db, {
      agencyId: agency.id,
      campaignId: campaign.id,
      fields: leadFields(),
      workflowId: leadWorkflowId,
    });
    const [offer] = await db
      .insert(offers)
      .values({
        leadId: lead.id,
        agencyId: agency.id,
        campaignId: campaign.id,
        kind: 'ping_post',
        workflowId: 'wf',
        price: 10,
        preview: {},
        maxWinners: 1,
        closesAt: new Date(),
      })
      .returning();
    const charge = async (buyerId: string) =>
      (
        await postLedgerEntry(db, {
          buyerId,
          agencyId: agency.id,
          kind: 'charge',
          amount: -10,
          idempotencyKey: `offer:${offer.id}:buyer:${buyerId}`,
        })
      ).entry;
    const assign = async (buyerId: string, entryId: string) =>
      db.insert(assignments).values({
        leadId: lead.id,
        offerId: offer.id,
        buyerId,
        agencyId: agency.id,
        price: 10,
        exclusive: true,
        chargeEntryId: entryId,
      });

    await assign(buyer.id, (await charge(buyer.id)).id);
    const secondEntry = await charge(other.id);
    await expect(assign(other.id, secondEntry.id)).rejects.toThrow();
    // Even with the exclusive flag off, the offer's own maxWinners (1) refuses a second winner.
    await expect(
      db.insert(assignments).values({
        leadId: lead.id,
        offerId: offer.id,
        buyerId: other.id,
        agencyId: agency.id,
        price: 10,
        exclusive: false,
        chargeEntryId: secondEntry.id,
      }),
    ).rejects.toThrow();
    expect(await db.select().from(assignments).where(eq(assignments.leadId, lead.id))).toHaveLength(1);
    expect((await db.select().from(offers).where(eq(offers.id, offer.id)))[0].winners).toBe(1);
  });

  test('migrations are a no-op the second time', async () => {
    const count = async () =>
      (
        (await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)) as unknown as {
          rows: { n: number }[];
        }
      ).rows[0];
    const before = await count();
    await migrateDatabase(database);
    expect(await count()).toEqual(before);
    expect(before.n).toBeGreaterThanOrEqual(2);
  });
});
