/**
 * Ping post on the real dev server and real Postgres: first valid claim wins,
 * credits are charged at the claim, the timeline records every step.
 */
import { postLedgerEntry } from '../../db/ledger';
import { previewOf } from '../../domain/preview';
import { recordHistory } from '../helpers/histories';
import {
  assignmentsFor,
  balanceOf,
  chargesFor,
  claim,
  targetsOf,
  timelineCounts,
  waitForLeadStatus,
  waitForOffer,
} from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { startLead } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeBuyers, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite();

test('the first of 20 simultaneous claims wins; the rest lose the race; one charge', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const eligible = await makeBuyers(db, agency.id, 20, { credits: 100 });
  const outside = await makeBuyer(db, agency.id, { credits: 100, zipCodes: ['10001'] });
  const broke = await makeBuyer(db, agency.id, { credits: 5 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 30, price: { base: 25 } });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);

  const results = await Promise.all(eligible.map((b) => claim(suite.client, offer, b.id)));

  const won = results.filter((r) => r.result === 'won');
  const lost = results.filter((r) => r.result === 'lost');
  expect(won).toHaveLength(1);
  expect(lost).toHaveLength(19);
  expect(lost.every((r) => r.result === 'lost' && r.reason === 'lost_race')).toBe(true);
  expect(await chargesFor(db, offer.id)).toHaveLength(1);
  const winner = eligible[results.findIndex((r) => r.result === 'won')];
  expect(await balanceOf(db, winner.id)).toBe(75);
  for (const b of eligible.filter((x) => x.id !== winner.id)) expect(await balanceOf(db, b.id)).toBe(100);
  if (won[0].result === 'won') {
    expect(won[0].lead.phone).toBe(lead.fields.phone);
    expect(won[0].charged).toBe(25);
  }

  await waitForLeadStatus(db, lead.id, 'sold');
  const targets = await targetsOf(db, offer.id);
  expect(targets.find((t) => t.buyerId === outside.id)).toMatchObject({
    eligible: false,
    reason: 'outside_service_area',
  });
  expect(targets.find((t) => t.buyerId === broke.id)).toMatchObject({
    eligible: false,
    reason: 'insufficient_credits',
  });

  // The timeline is written in the background: wait for the full picture.
  await expectEventually(async () => {
    const counts = await timelineCounts(db, offer.id);
    expect(counts).toMatchObject({
      targeted: 20,
      excluded: 2,
      claim_attempted: 20,
      won: 1,
      claim_failed: 19,
      lost: 19,
      delivered: 1,
    });
  });
  await recordHistory(suite.client, offer.workflowId, 'ping-post-won');
});

test('a winner asking again gets the same result and is charged once', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const [a, b] = await makeBuyers(db, agency.id, 2, { credits: 50 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 30, price: { base: 10 }, maxWinners: 2 });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  const first = await claim(suite.client, offer, a.id, 'req-1');
  const again = await claim(suite.client, offer, a.id, 'req-2');
  expect(first.result).toBe('won');
  expect(again).toEqual(first);
  expect(await balanceOf(db, a.id)).toBe(40);
  expect(await claim(suite.client, offer, b.id)).toMatchObject({ result: 'won' });
});

test('insufficient credits at claim time leaves the offer open for another buyer', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const [poor, rich] = await makeBuyers(db, agency.id, 2, { credits: 30 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 30, price: { base: 20 } });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  // The poor buyer spends its credits elsewhere after being targeted.
  await postLedgerEntry(db, {
    buyerId: poor.id,
    agencyId: agency.id,
    kind: 'adjustment',
    amount: -25,
    idempotencyKey: `drain-${poor.id}`,
  });

  expect(await claim(suite.client, offer, poor.id)).toEqual({ result: 'failed', reason: 'insufficient_credits' });
  expect(await claim(suite.client, offer, rich.id)).toMatchObject({ result: 'won', charged: 20 });
  expect(await balanceOf(db, poor.id)).toBe(5);
  expect(await assignmentsFor(db, lead.id)).toHaveLength(1);
});

test('a shared lead with maxWinners 2 has two winners; the third loses the race', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyers = await makeBuyers(db, agency.id, 3, { credits: 50 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 30, price: { base: 10 }, maxWinners: 2 });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  const results = [];
  for (const b of buyers) results.push(await claim(suite.client, offer, b.id));
  expect(results.map((r) => r.result)).toEqual(['won', 'won', 'lost']);
  expect(results[2]).toEqual({ result: 'lost', reason: 'lost_race' });
  expect(await assignmentsFor(db, lead.id)).toHaveLength(2);
  expect((await assignmentsFor(db, lead.id)).every((a) => !a.exclusive)).toBe(true);
  await recordHistory(suite.client, offer.workflowId, 'shared-two-winners');
});

test('the preview holds only the campaign visible fields', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  await makeBuyer(db, agency.id, { credits: 50 });
  const campaign = await makeCampaign(db, agency.id, { previewFields: ['city', 'zip', 'answers.homeowner'] });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  expect(offer.preview).toEqual(previewOf(lead.fields, ['city', 'zip', 'answers.homeowner']));
  expect(Object.keys(offer.preview).sort()).toEqual(['answers', 'city', 'zip']);
  const serialized = JSON.stringify(offer.preview);
  for (const hidden of [lead.fields.phone, lead.fields.email, lead.fields.firstName, lead.fields.lastName])
    expect(serialized).not.toContain(hidden);
});

async function expectEventually(assertion: () => Promise<void>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertion();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
