/**
 * The webhook delivery activity, one attempt at a time, in the SDK's
 * `MockActivityEnvironment` (real Postgres, a real HTTP receiver): what each
 * answer from the buyer's endpoint makes of the attempt – delivered and
 * recorded; a retryable failure whose next delay honours `Retry-After`; the
 * last attempt with no next delay; a 410 that pauses the endpoint and is not
 * retried. The workflow tests show the same on the dev server end to end;
 * here each attempt number is set directly, which a workflow cannot do.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';

import { deliveryActivities } from '../../activities/delivery';
import { createBuyer } from '../../db/buyers';
import type { Database } from '../../db/connection';
import { insertLead } from '../../db/leads';
import { topUp } from '../../db/ledger';
import { createInProcessBus } from '../../db/offer-bus';
import { sellOffer } from '../../db/sales';
import { buyers, deliveries, deliveryAttempts, offers } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import { openTestPostgres } from '../helpers/db';
import { leadFields, makeAgency, makeCampaign } from '../helpers/world';

let database: Database;
let server: http.Server;
let url: string;
/** What the receiver answers next. */
let answer: { status: number; headers?: Record<string, string> } = { status: 200 };

beforeAll(async () => {
  database = await openTestPostgres();
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(`status ${answer.status}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await database.close();
});

const MAX_ATTEMPTS = 5;
const activities = () =>
  deliveryActivities({
    db: database.db,
    bus: createInProcessBus(),
    delivery: {
      allowlist: '127.0.0.1',
      retry: {
        maximumAttempts: MAX_ATTEMPTS,
        initialIntervalMs: 1_000,
        backoffCoefficient: 2,
        maximumIntervalMs: 60_000,
      },
    },
  });

/** One sold lead whose buyer's webhook is the receiver. */
async function soldLead() {
  const db = database.db;
  const agency = await makeAgency(db);
  const campaign = await makeCampaign(db, agency.id);
  const buyer = await createBuyer(db, agency.id, {
    name: 'hooked',
    serviceLines: ['roofing'],
    delivery: { webhookUrl: url },
  });
  await topUp(db, { buyerId: buyer.id, agencyId: agency.id, amount: 100, idempotencyKey: `seed-${buyer.id}` });
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
      kind: 'manual',
      workflowId: lead.workflowId,
      price: 10,
      preview: {},
      closesAt: new Date(Date.now() + 60_000),
    })
    .returning();
  const sale = await sellOffer(db, { offerId: offer!.id, buyerId: buyer.id, sale: 'manual' });
  if (sale.result !== 'won') throw new Error(`sale refused: ${sale.reason}`);
  return { buyerId: buyer.id, assignmentId: sale.assignmentId };
}

/** Runs the webhook activity as attempt `attempt`; resolves to the failure it threw, or null when it delivered. */
async function attemptNo(attempt: number, assignmentId: string): Promise<ApplicationFailure | null> {
  const env = new MockActivityEnvironment({ attempt });
  try {
    await env.run(activities().deliverWebhook, { assignmentId });
    return null;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
}

const attemptsOf = (assignmentId: string) =>
  database.db
    .select()
    .from(deliveryAttempts)
    .where(and(eq(deliveryAttempts.assignmentId, assignmentId), eq(deliveryAttempts.channel, 'webhook')));

test('a 503 with Retry-After is a retryable failure whose next attempt waits what the endpoint asked', async () => {
  const { assignmentId } = await soldLead();
  answer = { status: 503, headers: { 'Retry-After': '7' } };
  const failure = await attemptNo(1, assignmentId);
  expect(failure).toMatchObject({ type: 'DeliveryFailed', nonRetryable: false });
  expect(failure!.nextRetryDelay).toBe(7_000);
  expect(await attemptsOf(assignmentId)).toEqual([
    expect.objectContaining({ attempt: 1, outcome: 'failed', statusCode: 503, nextRetryMs: 7_000 }),
  ]);
});

test('the last attempt fails without a next delay; a later attempt that succeeds records the delivery', async () => {
  const { assignmentId } = await soldLead();
  answer = { status: 500 };
  const last = await attemptNo(MAX_ATTEMPTS, assignmentId);
  expect(last).toMatchObject({ type: 'DeliveryFailed' });
  expect(last!.nextRetryDelay).toBeUndefined();
  expect(await attemptsOf(assignmentId)).toEqual([
    expect.objectContaining({ attempt: MAX_ATTEMPTS, outcome: 'failed', nextRetryMs: null }),
  ]);

  answer = { status: 200 };
  expect(await attemptNo(1, assignmentId)).toBeNull();
  const [delivery] = await database.db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.assignmentId, assignmentId), eq(deliveries.channel, 'webhook')));
  expect(delivery).toMatchObject({ status: 'delivered' });
  // Delivered is final: another attempt (a retry whose answer was lost) sends nothing more.
  const before = (await attemptsOf(assignmentId)).length;
  expect(await attemptNo(2, assignmentId)).toBeNull();
  expect(await attemptsOf(assignmentId)).toHaveLength(before);
});

test('a 410 Gone is not retried: the endpoint is paused, and the attempt says why', async () => {
  const { assignmentId, buyerId } = await soldLead();
  answer = { status: 410 };
  const failure = await attemptNo(1, assignmentId);
  expect(failure).toMatchObject({ type: 'EndpointGone', nonRetryable: true });
  expect(await attemptsOf(assignmentId)).toEqual([expect.objectContaining({ outcome: 'gone', statusCode: 410 })]);
  const [buyer] = await database.db.select().from(buyers).where(eq(buyers.id, buyerId));
  expect(JSON.stringify(buyer)).toMatch(/410 Gone/);
});
