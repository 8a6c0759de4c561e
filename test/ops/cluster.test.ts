/**
 * The production topology, smoke-tested: the Temporal cluster on Postgres (tools/temporal-server,
 * frontend, history, matching and worker as four processes, 4 history shards), two Leadwire workers and
 * two APIs (test/faults/harness.ts in the `cluster` topology). A lead comes in through the first API, a
 * buyer watching the first API's feed sees it, claims it through the second API, is charged once, hears
 * the close on the first API's feed, and the ledger audit (with the cluster's Postgres visibility) passes.
 */
import { Client as PgClient } from 'pg';

import { runAudit } from '../../ops/audit';
import { connectFeed, type FeedClient } from '../api/harness';
import { checkInvariants } from '../faults/invariants';
import { faultSuite } from '../faults/suite';
import { call } from '../faults/traffic';
import { leadFields, SERVICE_LINE } from '../helpers/world';

jest.setTimeout(10 * 60_000);

const suite = faultSuite({ topology: 'cluster' });
const feeds: FeedClient[] = [];

afterAll(async () => {
  await Promise.all(feeds.map((f) => f.close()));
});

async function ok(
  baseUrl: string,
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const answer = await call(baseUrl, method, path, { key, body });
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

test('the cluster is four Temporal processes in one membership ring, on Postgres, with 4 history shards', async () => {
  const cluster = suite.stack.cluster!;
  const pids = Object.values(cluster.services).map((s) => s.pid);
  expect(new Set(pids).size).toBe(4);
  expect(pids.every((p) => typeof p === 'number')).toBe(true);
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.pathname = `/${cluster.databases.temporal}`;
  const pg = new PgClient({ connectionString: url.toString() });
  await pg.connect();
  try {
    // Roles in cluster_membership: 1 frontend, 2 history, 3 matching, 4 worker (persistence.ServiceType).
    const { rows } = await pg.query(
      `SELECT DISTINCT role FROM cluster_membership WHERE last_heartbeat > now() - interval '1 minute' ORDER BY role`,
    );
    expect(rows.map((r) => Number(r.role))).toEqual([1, 2, 3, 4]);
    const shards = await pg.query('SELECT count(*)::int AS n FROM shards');
    expect(shards.rows[0].n).toBe(4);
  } finally {
    await pg.end();
  }
  // Every service answers Prometheus scrapes on its own port.
  for (const metricsUrl of Object.values(cluster.metricsUrls)) expect((await fetch(metricsUrl)).status).toBe(200);
});

test('a lead in through API 1, claimed through API 2: charged once, the feed of API 1 hears it, the audit passes', async () => {
  const { stack } = suite;
  const [api1, api2] = stack.apiUrls;
  expect(stack.apis).toHaveLength(2);
  expect(stack.workers).toHaveLength(2);

  const created = await ok(api1, 'POST', '/v1/agencies', stack.rootToken, { name: `cluster-smoke-${Date.now()}` });
  const adminKey = created.adminKey as string;
  const agencyId = (created.agency as { id: string }).id;
  await ok(api1, 'POST', '/v1/service-lines', adminKey, { key: SERVICE_LINE, name: 'Roofing' });
  const b = await ok(api1, 'POST', '/v1/buyers', adminKey, { name: 'smoke-buyer', serviceLines: [SERVICE_LINE] });
  const buyer = { id: (b.buyer as { id: string }).id, key: b.apiKey as string };
  await ok(api1, 'POST', `/v1/buyers/${buyer.id}/credits`, adminKey, { amount: 100 });
  const c = await ok(api1, 'POST', '/v1/campaigns', adminKey, {
    name: 'smoke',
    serviceLine: SERVICE_LINE,
    mode: 'ping_post',
    claimWindowSeconds: 60,
    price: { base: 10 },
  });
  const campaignId = (c.campaign as { id: string }).id;

  const feed = await connectFeed(`${api1.replace('http', 'ws')}/v1/feed`, buyer.key);
  feeds.push(feed);
  await feed.next((m) => m.type === 'snapshot');

  const lead = await ok(api1, 'POST', '/v1/leads', adminKey, { campaignId, fields: leadFields() });
  const leadId = (lead.lead as { id: string }).id;
  const opened = await feed.next((m) => m.type === 'offer.opened', 60_000);
  const offer = opened.offer as { id: string; leadId: string };
  expect(offer.leadId).toBe(leadId);

  const claim = await call(api2, 'POST', `/v1/offers/${offer.id}/claim`, {
    key: buyer.key,
    body: { requestId: 'smoke-claim-1' },
  });
  expect(claim.status).toBe(200);
  expect(claim.body.result).toBe('won');
  // The same requestId again, through the other API: the same answer, no second charge.
  const again = await call(api1, 'POST', `/v1/offers/${offer.id}/claim`, {
    key: buyer.key,
    body: { requestId: 'smoke-claim-1' },
  });
  expect(again.body.result).toBe('won');

  expect(await feed.next((m) => m.type === 'offer.closed' && m.offerId === offer.id, 60_000)).toEqual({
    type: 'offer.closed',
    offerId: offer.id,
    outcome: 'won_by_you',
    seq: expect.any(Number), // the feed's resume cursor
  });

  const { pool } = suite;
  const sales = await pool.query('SELECT buyer_id, price FROM assignments WHERE lead_id = $1', [leadId]);
  expect(sales.rows).toEqual([{ buyer_id: buyer.id, price: 10 }]);
  const charges = await pool.query(`SELECT amount FROM ledger_entries WHERE buyer_id = $1 AND kind = 'charge'`, [
    buyer.id,
  ]);
  expect(charges.rows).toEqual([{ amount: -10 }]);
  const wallet = await pool.query('SELECT balance FROM wallets WHERE buyer_id = $1', [buyer.id]);
  expect(wallet.rows).toEqual([{ balance: 90 }]);

  // The lead's workflow completes (a sold lead), seen through the cluster's Postgres visibility by the audit.
  const deadline = Date.now() + 60_000;
  while (
    (await pool.query('SELECT status FROM leads WHERE id = $1', [leadId])).rows[0].status !== 'sold' &&
    Date.now() < deadline
  )
    await new Promise((r) => setTimeout(r, 250));
  expect(await checkInvariants(pool, agencyId)).toEqual([]);
  const audit = await runAudit(suite.database.db, { agencyId, temporal: suite.temporal, minAgeMs: 0 });
  expect(audit.checks.filter((ch) => ch.failed)).toEqual([]);
});
