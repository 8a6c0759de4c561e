/**
 * Pings through the API processes' Do-Not-Call filter (db/dnc-filter.ts, #23) on the real stack: two API processes
 * (each its own connection pool and Postgres bus), the filter of the first built; the operator loads a registry
 * file through the second; the first hears the change on the bus and refuses the number's ping `suppressed` – while
 * its filter is stale (the database answers) and again once it is rebuilt (a probable hit, answered by the
 * database) – and a number nobody listed is answered by the filter without the database.
 */
import type { Database } from '../../db/connection';
import { dncFilterOf } from '../../db/dnc-filter';
import { openTestPostgres } from '../helpers/db';
import { eventually } from '../helpers/temporal';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  bearer,
  type Harness,
  leadFields,
  ROOT_TOKEN,
  startHarness,
} from './harness';
import { apiSourceFor } from './world';

let h: Harness;
/** The second process's own database handle (its own pool: its filter, if any, is its own). */
let there: Database;

beforeAll(async () => {
  h = await startHarness({ bus: 'postgres', api: { dncFilter: { driver: 'postgres', rebuildDelayMs: 100 } } });
  there = await openTestPostgres();
});

afterAll(async () => {
  await h?.close();
  await there?.close();
});

test("a file loaded through another API process reaches this one's filter through the bus: the number's ping is refused, before and after the rebuild", async () => {
  const filter = dncFilterOf(h.database.db)!;
  expect(filter).toBeDefined();
  await eventually(async () => filter.state === 'ready', 30_000, 'the first build');
  const other = await h.startInstance({ db: there.db });

  const { adminKey } = await apiAgency(h);
  await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey);
  const source = await apiSourceFor(h, adminKey, campaign.id);
  // Numbers this file alone uses (the platform lists are shared by the run's tests).
  const listed = leadFields({ phone: '7372000301' });
  const clean = leadFields({ phone: '7372000302' });
  const ping = (fields: typeof listed) =>
    h.http
      .post('/v1/pings')
      .set(bearer(source.apiKey))
      .send({ campaignId: campaign.id, fields: { zip: fields.zip, state: fields.state, phone: fields.phone } });

  expect((await ping(listed)).body.decision).toBe('accepted');
  // Answered by the current filter (or, for a false positive, let through to the database, which found nothing).
  // Other test files write the shared lists too, each change staling the filter a moment: tried until a quiet spell.
  await eventually(
    async () => {
      await eventually(async () => filter.state === 'ready', 30_000, 'a current filter');
      const before = filter.stats();
      expect((await ping(clean)).body.decision).toBe('accepted');
      const after = filter.stats();
      return (
        after.invalidations === before.invalidations &&
        after.screened + after.falsePositives === before.screened + before.falsePositives + 1
      );
    },
    60_000,
    'a ping answered by a current filter',
  );

  const invalidations = filter.stats().invalidations;
  const loaded = await other.http
    .post('/v1/dnc/uploads?list=national_dnc')
    .set(bearer(ROOT_TOKEN))
    .set('Content-Type', 'text/csv')
    .send('7372000301\n');
  expect([loaded.status, loaded.body.added]).toEqual([200, 1]);
  await eventually(async () => filter.stats().invalidations > invalidations, 30_000, 'the change heard on the bus');
  const refused = await ping(listed);
  expect(refused.body).toMatchObject({ decision: 'rejected', reason: 'suppressed' });

  await eventually(async () => filter.state === 'ready', 30_000, 'the rebuild');
  expect((await ping(listed)).body).toMatchObject({ decision: 'rejected', reason: 'suppressed' });
  expect((await ping(clean)).body.decision).toBe('accepted');
});
