/**
 * The API processes' Bloom filter of the platform's Do-Not-Call lists (db/dnc-filter.ts, #23): a listed number is
 * found before the filter is built, while it builds and after; a file loaded by another process reaches this one
 * through the bus (the dnc_entries trigger's NOTIFY, migration 0034) and its numbers are found; a process whose bus
 * lost its connection answers from the database until it has rebuilt; and the filter's false-positive rate at its
 * size stays within its bound (fixed hashes). Two database handles with a Postgres bus each are the two processes.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';

import { sql } from 'drizzle-orm';
import type { Pool } from 'pg';

import type { Database } from '../../db/connection';
import { DncFilter, useDncFilter } from '../../db/dnc-filter';
import { prepareKeyStore } from '../../db/key-store';
import { BUS_APPLICATION_NAME, createInProcessBus, createPostgresBus, type OfferBus } from '../../db/offer-bus';
import { loadDncFile, suppressionHasher, suppressionHits } from '../../db/suppression';
import { BloomFilter, bloomSize } from '../../lib/bloom';
import { openTestPglite, openTestPostgres } from '../helpers/db';
import { eventually } from '../helpers/temporal';
import { makeAgency } from '../helpers/world';

/** This process (with the filter) and another one (which loads files). */
let here: Database;
let there: Database;
let bus: OfferBus;
let filter: DncFilter;
/** Awaited between the build's batches (the test looks up numbers while a build runs). */
let duringBuild: (() => Promise<void>) | null = null;

const file = (lines: string[]) => Readable.from([lines.join('\n') + '\n']);
/** Numbers from 628 555-02xx: made for this test only (the platform lists are shared by the run's tests). */
const number = (n: number) => `628555${String(200 + n).padStart(4, '0')}`;
const e164 = (n: number) => `+1${number(n)}`;

beforeAll(async () => {
  here = await openTestPostgres();
  there = await openTestPostgres();
  await prepareKeyStore(here.db);
  bus = createPostgresBus(here.url!, here.raw as Pool);
  await bus.ready();
});

afterAll(async () => {
  filter?.stop();
  await bus.close();
  await here.close();
  await there.close();
});

const listsOf = async (agencyId: string, n: number) =>
  (await suppressionHits(here.db, agencyId, { phoneE164: e164(n) })).map((h) => h.list);

test('a listed number is found before, during and after a build; a file loaded elsewhere reaches this process through the bus', async () => {
  const agency = await makeAgency(here.db);
  // Listed before this process's filter exists.
  await loadDncFile(there.db, { list: 'national_dnc', state: null }, file([number(1)]));
  await loadDncFile(there.db, { list: 'state_dnc', state: 'TX' }, file([number(1), number(2), number(3)]));

  const seenDuring: string[][] = [];
  filter = new DncFilter(here.db, 'postgres', bus, {
    maxBytes: 64 * 1_048_576,
    rebuildDelayMs: 500,
    onBatch: async () => {
      if (!duringBuild) return;
      const look = duringBuild;
      duringBuild = null;
      await look();
    },
  });
  useDncFilter(here.db, filter);
  duringBuild = async () => {
    expect(filter.state).not.toBe('ready');
    seenDuring.push(await listsOf(agency.id, 1), await listsOf(agency.id, 2));
  };
  filter.start();
  // Before the first build is done: the database answers.
  expect(filter.state).not.toBe('ready');
  expect(await listsOf(agency.id, 1)).toEqual(['national_dnc', 'state_dnc:TX']);

  await eventually(async () => filter.state === 'ready', 30_000, 'the first build');
  expect(seenDuring).toEqual([['national_dnc', 'state_dnc:TX'], ['state_dnc:TX']]);
  expect(filter.stats().builds).toBeGreaterThanOrEqual(1);

  // After: the listed numbers are found (a probable hit, answered by the database); numbers nobody listed are
  // answered by the filter, but for its false positives, which the database then answers. (Other test files write
  // the shared lists too, and each of their changes stales the filter for a moment: asked again until a quiet spell.)
  await eventually(
    async () => {
      await eventually(async () => filter.state === 'ready', 30_000, 'a current filter');
      const before = filter.stats();
      expect(before.entries).toBeGreaterThanOrEqual(4);
      expect(await listsOf(agency.id, 1)).toEqual(['national_dnc', 'state_dnc:TX']);
      expect(await listsOf(agency.id, 3)).toEqual(['state_dnc:TX']);
      for (let n = 50; n < 100; n++) expect(await listsOf(agency.id, n)).toEqual([]);
      const after = filter.stats();
      if (after.invalidations !== before.invalidations) return undefined;
      expect(after.screened - before.screened + (after.falsePositives - before.falsePositives)).toBe(50);
      return after.screened > before.screened;
    },
    60_000,
    'look-ups answered by a current filter',
  );

  // Another process loads a file: this one hears it on the bus, stops answering from the filter, and finds the
  // number from then on – through the database while stale, through the rebuilt filter after.
  const invalidations = filter.stats().invalidations;
  expect(await listsOf(agency.id, 4)).toEqual([]);
  await loadDncFile(there.db, { list: 'national_dnc', state: null }, file([number(4)]));
  await eventually(async () => filter.stats().invalidations > invalidations, 30_000, 'the change heard on the bus');
  expect(await listsOf(agency.id, 4)).toEqual(['national_dnc']);
  await eventually(async () => filter.state === 'ready', 30_000, 'the rebuild');
  expect(await listsOf(agency.id, 4)).toEqual(['national_dnc']);
  const platform = await suppressionHasher(here.db, 'platform');
  expect(filter.screen([platform({ kind: 'phone', normalised: e164(4) })]).ask).toHaveLength(1);

  // A deletion elsewhere (a script, psql) is heard too: after the rebuild the number is no longer listed.
  const removed = filter.stats().invalidations;
  await there.db.execute(
    sql`DELETE FROM dnc_entries WHERE list = 'national_dnc' AND hmac = decode(${platform({ kind: 'phone', normalised: e164(4) })}, 'hex')`,
  );
  await eventually(async () => filter.stats().invalidations > removed, 30_000, 'the deletion heard on the bus');
  await eventually(async () => filter.state === 'ready', 30_000, 'the rebuild');
  expect(await listsOf(agency.id, 4)).toEqual([]);
});

test('a process whose bus lost its connection answers from the database, and rebuilds once it is back', async () => {
  const agency = await makeAgency(here.db);
  await eventually(async () => filter.state === 'ready', 30_000, 'a current filter');
  const reconnects = bus.state().reconnects;
  const invalidations = filter.stats().invalidations;
  // The LISTEN connections of this run's database are cut (as test/api/feed-healing.test.ts does).
  const killed = await (there.raw as Pool).query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
    [BUS_APPLICATION_NAME],
  );
  expect(killed.rowCount).toBeGreaterThanOrEqual(1);
  // Loaded while this process's bus is down or coming back: its NOTIFY may never reach this process.
  await loadDncFile(there.db, { list: 'national_dnc', state: null }, file([number(5)]));
  expect(await listsOf(agency.id, 5)).toEqual(['national_dnc']);
  // The filter stopped answering on the loss (a disconnected bus, or one reconnected since the build), whether or
  // not it heard the load, and is rebuilt from the table once the bus is back.
  await eventually(async () => bus.state().reconnects > reconnects || undefined, 30_000, 'the reconnection');
  expect(filter.stats().invalidations).toBeGreaterThan(invalidations);
  expect(await listsOf(agency.id, 5)).toEqual(['national_dnc']);
  await eventually(async () => filter.state === 'ready', 30_000, 'the rebuild after the reconnection');
  expect(await listsOf(agency.id, 5)).toEqual(['national_dnc']);
  const platform = await suppressionHasher(here.db, 'platform');
  expect(filter.screen([platform({ kind: 'phone', normalised: e164(5) })]).ask).toHaveLength(1);
});

test("on PGlite (one process): built in pages, a change heard through PGlite's own NOTIFY, the number found", async () => {
  const database = await openTestPglite();
  const pglite = createInProcessBus({ pglite: database.raw as import('@electric-sql/pglite').PGlite });
  try {
    await prepareKeyStore(database.db);
    const db = database.db;
    const agency = await makeAgency(db);
    await loadDncFile(db, { list: 'national_dnc', state: null }, file([number(1), number(2), number(3)]));
    const local = new DncFilter(db, 'pglite', pglite, { maxBytes: 1_048_576, rebuildDelayMs: 100, batchRows: 2 });
    useDncFilter(db, local);
    local.start();
    await eventually(async () => local.state === 'ready', 30_000, 'the build');
    expect(local.stats().entries).toBe(3);
    const lists = async (n: number) =>
      (await suppressionHits(db, agency.id, { phoneE164: e164(n) })).map((h) => h.list);
    expect(await lists(2)).toEqual(['national_dnc']);
    // A row written in SQL (not through loadDncFile): the table's trigger tells the bus.
    const platform = await suppressionHasher(db, 'platform');
    const invalidations = local.stats().invalidations;
    await db.execute(
      sql`INSERT INTO dnc_entries (list, state, hmac) VALUES ('state_dnc', 'CA', decode(${platform({ kind: 'phone', normalised: e164(6) })}, 'hex'))`,
    );
    await eventually(async () => local.stats().invalidations > invalidations, 30_000, 'the change heard');
    expect(await lists(6)).toEqual(['state_dnc:CA']);
    await eventually(async () => local.state === 'ready', 30_000, 'the rebuild');
    expect(local.stats().entries).toBe(4);
    expect(await lists(6)).toEqual(['state_dnc:CA']);
    local.stop();
  } finally {
    await pglite.close();
    await database.close();
  }
});

test('the filter never misses a member and its false-positive rate at its size stays within the bound', () => {
  const hash = (tag: string, i: number) => crypto.createHash('sha256').update(`${tag}:${i}`).digest('hex');
  const capacity = 200_000;
  const bloom = new BloomFilter(capacity, 0.01);
  expect({ bits: bloom.bits, hashes: bloom.hashes }).toEqual(bloomSize(capacity, 0.01));
  for (let i = 0; i < capacity; i++) bloom.add(hash('member', i));
  let missed = 0;
  for (let i = 0; i < capacity; i++) if (!bloom.mightHold(hash('member', i))) missed++;
  expect(missed).toBe(0);
  let falsePositives = 0;
  const others = 400_000;
  for (let i = 0; i < others; i++) if (bloom.mightHold(hash('other', i))) falsePositives++;
  // Sized for 1 %: the fixed hashes give a rate of about 1 % (the binomial's spread at this count is ±0.05 %).
  expect(falsePositives / others).toBeLessThan(0.0115);
  expect(falsePositives / others).toBeGreaterThan(0.005);
  // 10 million numbers at 1 %: about 12 MB, 7 positions each.
  const national = bloomSize(10_000_000, 0.01);
  expect(national.hashes).toBe(7);
  expect(national.bits / 8 / 1_048_576).toBeLessThan(11.5);
});
