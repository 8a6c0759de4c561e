/**
 * Small factories that build a test's world: an agency, its buyers with
 * credits, campaigns, leads. Each test makes its own agency, so tests sharing
 * the run's database never see each other's data.
 */
import { sql } from 'drizzle-orm';

import { createAgency, createServiceLine } from '../../db/agencies';
import { createBuyer, type NewBuyer } from '../../db/buyers';
import { createCampaign, type NewCampaign } from '../../db/campaigns';
import type { Db } from '../../db/connection';
import { insertLead } from '../../db/leads';
import { topUp } from '../../db/ledger';
import { offers } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import type { LeadFields, OfferKind } from '../../domain/types';

let counter = 0;
const unique = (p: string) => `${p}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export const SERVICE_LINE = 'roofing';

export async function makeAgency(db: Db, opts: { timeZone?: string } = {}) {
  const agency = await createAgency(db, { name: unique('agency'), timeZone: opts.timeZone });
  await createServiceLine(db, agency.id, { key: SERVICE_LINE, name: 'Roofing' });
  return agency;
}

export async function makeBuyer(db: Db, agencyId: string, opts: Partial<NewBuyer> & { credits?: number } = {}) {
  const buyer = await createBuyer(db, agencyId, { name: unique('buyer'), serviceLines: [SERVICE_LINE], ...opts });
  if (opts.credits)
    await topUp(db, { buyerId: buyer.id, agencyId, amount: opts.credits, idempotencyKey: unique('topup') });
  return buyer;
}

export async function makeBuyers(
  db: Db,
  agencyId: string,
  n: number,
  opts: Partial<NewBuyer> & { credits?: number } = {},
) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await makeBuyer(db, agencyId, opts));
  return out;
}

export async function makeCampaign(db: Db, agencyId: string, opts: Partial<NewCampaign> = {}) {
  return createCampaign(db, agencyId, {
    name: unique('campaign'),
    serviceLine: SERVICE_LINE,
    mode: 'ping_post',
    claimWindowSeconds: 2,
    price: { base: 10 },
    ...opts,
  });
}

export function leadFields(overrides: Partial<LeadFields> = {}): LeadFields {
  const n = counter++;
  return {
    firstName: `Ada${n}`,
    lastName: `Lovelace${n}`,
    phone: `512${2000000 + (n % 8_000_000)}`, // a valid US number (libphonenumber): intake checks it
    email: `ada${n}.${Date.now()}@example.com`,
    city: 'Austin',
    state: 'TX',
    zip: '78701',
    answers: { homeowner: 'yes' },
    ...overrides,
  };
}

export async function makeLead(db: Db, agencyId: string, campaignId: string, fields: Partial<LeadFields> = {}) {
  return insertLead(db, { agencyId, campaignId, fields: leadFields(fields), workflowId: leadWorkflowId });
}

/**
 * An open offer of a stored lead (for a minute): by default manual, as an admin's assignment opens one (any buyer may
 * be sold it); a `ping_post` or `push` one sells only to the buyers given its targets.
 */
export async function makeOffer(
  db: Db,
  lead: { id: string; agencyId: string; campaignId: string | null; workflowId: string },
  /** `campaignId: null`: an offer of no campaign (its sale counts against the buyer's caps only). */
  opts: { price?: number; maxWinners?: number; campaignId?: string | null; kind?: OfferKind } = {},
) {
  const [offer] = await db
    .insert(offers)
    .values({
      leadId: lead.id,
      agencyId: lead.agencyId,
      campaignId: opts.campaignId === undefined ? lead.campaignId : opts.campaignId,
      kind: opts.kind ?? 'manual',
      workflowId: lead.workflowId,
      price: opts.price ?? 10,
      preview: {},
      maxWinners: opts.maxWinners ?? 1,
      closesAt: new Date(Date.now() + 60_000),
    })
    .returning();
  return offer!;
}

/**
 * What an intake during a Temporal outage leaves behind: a lead stored two minutes ago, still `routing`, its
 * workflow never started, in a push campaign with one buyer who can afford it (so a started routing sells it).
 */
export async function makeStuckLead(db: Db) {
  const agency = await makeAgency(db);
  await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { mode: 'push' });
  const lead = await makeLead(db, agency.id, campaign.id);
  await db.execute(sql`UPDATE leads SET created_at = now() - interval '2 minutes' WHERE id = ${lead.id}`);
  return lead;
}
