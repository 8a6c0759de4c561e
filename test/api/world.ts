/**
 * A world with every kind of caller and resource, built through the API:
 * agency A (admin, a targeted buyer T with two won leads and an open
 * dispute, an excluded buyer O, a source S allowed on its campaign with an
 * accepted ping, a source R whose keys may be revoked) and agency B (admin,
 * buyer F, source Z).
 */
import crypto from 'node:crypto';

import { eq } from 'drizzle-orm';

import { insertLead } from '../../db/leads';
import { closeOffer, openOfferRow, saveOffer } from '../../db/offers';
import { offers } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import type { AuctionKind } from '../../domain/types';
import { eventually } from '../helpers/temporal';
import { leadFields } from '../helpers/world';
import { apiAgency, apiBuyer, apiCampaign, apiClient, apiLead, bearer, expectStatus, type Harness } from './harness';

export type World = Awaited<ReturnType<typeof buildWorld>>;

/** The open offer of a lead, once its workflow has opened it. */
export async function offerOfLead(h: Harness, leadId: string, status: string | null = 'open') {
  return eventually(
    async () => {
      const rows = await h.database.db.select().from(offers).where(eq(offers.leadId, leadId));
      return rows.find((o) => status === null || o.status === status);
    },
    20_000,
    `offer of lead ${leadId}`,
  );
}

/** Gives the buyer an endpoint (post only, at an address never called), as a ping tree's buyers need. */
export async function apiEndpoint(h: Harness, adminKey: string, buyerId: string): Promise<void> {
  await h.http
    .put(`/v1/buyers/${buyerId}/endpoint`)
    .set(bearer(adminKey))
    .send({ postUrl: 'https://buyer-endpoint.invalid/post', postTemplate: { phone: '{{phone}}' } })
    .expect(200);
}

/**
 * An offer stored as route-and-open stores it, straight in the database (no workflow behind it: nothing pings,
 * claims or closes it), on a lead of its own of the campaign, targeting `buyerIds` (all eligible) – for the reads of
 * what buyers see. `paperwork: false` leaves it between the two steps of an opening (offer row only, verdict rows
 * pending); `closed` closes it `expired` now.
 */
export async function storedOffer(
  h: Harness,
  o: {
    agencyId: string;
    campaignId: string;
    auction: AuctionKind;
    buyerIds: string[];
    paperwork?: boolean;
    closed?: boolean;
  },
): Promise<string> {
  const db = h.database.db;
  const lead = await insertLead(db, {
    agencyId: o.agencyId,
    campaignId: o.campaignId,
    fields: leadFields(),
    workflowId: leadWorkflowId,
  });
  const offer = {
    id: crypto.randomUUID(),
    leadId: lead.id,
    agencyId: o.agencyId,
    campaignId: o.campaignId,
    kind: 'ping_post' as const,
    workflowId: lead.workflowId,
    price: 20,
    preview: {},
    maxWinners: 1,
    depth: 0,
    auction: o.auction,
    pricing: 'first_price' as const,
    openedAt: new Date(),
    closesAt: new Date(Date.now() + 120_000),
  };
  const targets = o.buyerIds.map((buyerId) => ({ buyerId, eligible: true, reason: null, detail: null, snapshot: {} }));
  if (o.paperwork === false) await openOfferRow(db, offer, targets);
  else await saveOffer(db, offer, targets);
  if (o.closed) await closeOffer(db, offer.id, { outcome: 'expired', at: new Date() });
  return offer.id;
}

/** Claims an offer through the API and expects the win. */
export async function winOffer(h: Harness, buyerKey: string, offerId: string) {
  return expectStatus(
    'claim',
    200,
    apiClient(h, buyerKey).POST('/v1/offers/{id}/claim', { params: { path: { id: offerId } }, body: {} }),
  );
}

/** A source of the agency allowed on one campaign (30 % of the sale), with its key. */
export async function apiSourceFor(h: Harness, adminKey: string, campaignId: string) {
  const admin = apiClient(h, adminKey);
  const { source, apiKey } = await expectStatus(
    'source',
    201,
    admin.POST('/v1/sources', { body: { name: `source-${Date.now().toString(36)}` } }),
  );
  await expectStatus(
    'source rule',
    200,
    admin.POST('/v1/sources/{id}/campaigns', {
      params: { path: { id: source.id } },
      body: { campaignId, payout: { kind: 'share', shareBps: 3000 } },
    }),
  );
  return { source, apiKey };
}

export async function buildWorld(h: Harness) {
  const A = await apiAgency(h);
  const B = await apiAgency(h);
  const T = await apiBuyer(h, A.adminKey, { credits: 1000 });
  const O = await apiBuyer(h, A.adminKey, { credits: 1000, zipCodes: ['10001'] });
  const F = await apiBuyer(h, B.adminKey, { credits: 1000 });
  const campaign = await apiCampaign(h, A.adminKey, { claimWindowSeconds: 60, price: { base: 25 } });
  const campaignB = await apiCampaign(h, B.adminKey, { claimWindowSeconds: 60 });

  const lead1 = await apiLead(h, A.adminKey, campaign.id);
  const offer1 = await offerOfLead(h, lead1.id);
  const win1 = await winOffer(h, T.apiKey, offer1.id);
  const lead2 = await apiLead(h, A.adminKey, campaign.id);
  const offer2 = await offerOfLead(h, lead2.id);
  const win2 = await winOffer(h, T.apiKey, offer2.id);
  const dispute = await expectStatus(
    'dispute',
    201,
    apiClient(h, T.apiKey).POST('/v1/assignments/{id}/disputes', {
      params: { path: { id: win2.assignmentId } },
      body: { reason: 'wrong number' },
    }),
  );

  const S = await apiSourceFor(h, A.adminKey, campaign.id);
  const R = await apiSourceFor(h, A.adminKey, campaign.id);
  const Z = await apiSourceFor(h, B.adminKey, campaignB.id);
  const pingFields = leadFields();
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(S.apiKey))
    .send({
      campaignId: campaign.id,
      fields: { zip: pingFields.zip, state: pingFields.state, city: pingFields.city, answers: pingFields.answers },
    });
  if (ping.status !== 200 || ping.body.decision !== 'accepted')
    throw new Error(`ping: ${ping.status} ${JSON.stringify(ping.body)}`);

  return {
    A,
    B,
    S,
    R,
    Z,
    pingId: ping.body.pingId as string,
    pingFields,
    T,
    O,
    F,
    campaign,
    campaignB,
    lead1,
    offer1,
    assignment1: win1.assignmentId,
    lead2,
    offer2,
    assignment2: win2.assignmentId,
    disputeId: dispute.dispute.id,
  };
}
