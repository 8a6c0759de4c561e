/**
 * The one eligibility loader (db/eligibility.ts): in its one bulk query it
 * reads, for every candidate buyer, the pool membership, the balance, the cap
 * usage, the buyer's own price and whether it already bought this person;
 * the verdicts routing, the dry run and pings show come from those inputs,
 * and the sale's re-check loads the same inputs for its one buyer.
 */
import { setBuyerPrice } from '../../db/buyers';
import type { Database } from '../../db/connection';
import { evaluateEligibility, loadEligibilityInputs } from '../../db/eligibility';
import { insertLead } from '../../db/leads';
import { sellOffer } from '../../db/sales';
import { offers } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import { openTestPostgres } from '../helpers/db';
import { leadFields, makeAgency, makeBuyer, makeCampaign } from '../helpers/world';

let database: Database;
beforeAll(async () => {
  database = await openTestPostgres();
});
afterAll(async () => database?.close());

async function world() {
  const db = database.db;
  const agency = await makeAgency(db, { timeZone: 'America/Chicago' });
  const [plain, ownPrice, outsidePool, poor, bought] = [
    await makeBuyer(db, agency.id, { credits: 100 }),
    await makeBuyer(db, agency.id, { credits: 100 }),
    await makeBuyer(db, agency.id, { credits: 100 }),
    await makeBuyer(db, agency.id, { credits: 5 }),
    await makeBuyer(db, agency.id, { credits: 100 }),
  ];
  const campaign = await makeCampaign(db, agency.id, {
    price: { base: 10 },
    caps: { daily: 5 },
    buyers: [plain, ownPrice, poor, bought].map((b) => ({ buyerId: b!.id })),
  });
  await setBuyerPrice(db, campaign, ownPrice!.id, { kind: 'fixed', value: 7 });
  // The same person came in before (a shared dedupe key) and `bought` bought that lead.
  const person = [`phone:${Date.now()}`];
  const earlier = await insertLead(db, {
    agencyId: agency.id,
    campaignId: campaign.id,
    fields: leadFields(),
    dedupeKeys: person,
    workflowId: leadWorkflowId,
  });
  const [offer] = await db
    .insert(offers)
    .values({
      leadId: earlier.id,
      agencyId: agency.id,
      campaignId: campaign.id,
      kind: 'manual',
      workflowId: earlier.workflowId,
      price: 10,
      preview: {},
      closesAt: new Date(Date.now() + 60_000),
    })
    .returning();
  const sale = await sellOffer(db, { offerId: offer!.id, buyerId: bought!.id, sale: 'manual' });
  expect(sale.result).toBe('won');
  const lead = await insertLead(db, {
    agencyId: agency.id,
    campaignId: campaign.id,
    fields: leadFields(),
    dedupeKeys: person,
    workflowId: leadWorkflowId,
  });
  return {
    agency,
    campaign,
    lead,
    buyers: { plain: plain!, ownPrice: ownPrice!, outsidePool: outsidePool!, poor: poor!, bought: bought! },
  };
}

test('every candidate is judged from one load: pool, own price, balance, the person already bought, cap usage', async () => {
  const { campaign, lead, buyers } = await world();
  const { price, targets } = await evaluateEligibility(database.db, lead, campaign);
  expect(price).toBe(10);
  const by = new Map(targets.map((t) => [t.buyerId, t]));
  expect(targets).toHaveLength(5);
  expect(by.get(buyers.plain.id)).toMatchObject({ eligible: true, reason: null, price: null });
  expect(by.get(buyers.ownPrice.id)).toMatchObject({
    eligible: true,
    price: 7,
    snapshot: { priceRule: { kind: 'fixed', value: 7 }, campaignPrice: 10 },
  });
  expect(by.get(buyers.outsidePool.id)).toMatchObject({
    eligible: false,
    reason: 'not_in_campaign_pool',
    snapshot: { inCampaignPool: false },
  });
  expect(by.get(buyers.poor.id)).toMatchObject({
    eligible: false,
    reason: 'insufficient_credits',
    snapshot: { balance: 5 },
  });
  expect(by.get(buyers.bought.id)).toMatchObject({
    eligible: false,
    reason: 'already_bought',
    snapshot: {
      alreadyBought: true,
      balance: 90,
      counts: { daily: 1, weekly: 1, monthly: 1 },
      campaignCapReached: null,
    },
  });
});

test('the sale’s re-check loads the same inputs for its one buyer; a ping (no stored lead) has bought nothing; the campaign’s own cap counts its sales', async () => {
  const { campaign, lead, buyers } = await world();
  const one = await loadEligibilityInputs(
    database.db,
    lead,
    { ...campaign, pool: undefined },
    { buyerIds: [buyers.bought.id] },
  );
  expect(one.candidates.map((c) => c.buyer.id)).toEqual([buyers.bought.id]);
  expect(one.candidates[0]).toMatchObject({ balance: 90, alreadyBought: true, counts: { daily: 1 }, priceRule: null });
  expect(one.campaignPool).toEqual([buyers.bought.id]);

  const ping = { id: null, agencyId: lead.agencyId, fields: lead.fields, dedupeKeys: [] };
  const pinged = await loadEligibilityInputs(database.db, ping, campaign, { buyerIds: [buyers.bought.id] });
  expect(pinged.candidates[0]!.alreadyBought).toBe(false);

  const capped = await loadEligibilityInputs(
    database.db,
    lead,
    { ...campaign, caps: { daily: 1 } },
    { buyerIds: [buyers.plain.id] },
  );
  expect(capped.campaignCapReached).toBe('daily');
  // A draft (no id) counts nothing sold and takes the pool it is given.
  const draft = await loadEligibilityInputs(database.db, lead, {
    id: null,
    caps: { daily: 1 },
    pool: [buyers.outsidePool.id],
  });
  expect(draft.campaignCapReached).toBeNull();
  expect(draft.campaignPool).toEqual([buyers.outsidePool.id]);
});
