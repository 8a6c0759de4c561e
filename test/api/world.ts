/**
 * A world with every kind of caller and resource, built through the API:
 * agency A (admin, a targeted buyer T with two won leads and an open
 * dispute, an excluded buyer O, a source S allowed on its campaign with an
 * accepted ping, a source R whose keys may be revoked) and agency B (admin,
 * buyer F, source Z).
 */
import { eq } from 'drizzle-orm';
import { offers } from '../../db/schema';
import { eventually } from '../helpers/temporal';
import { leadFields } from '../helpers/world';
import { apiAgency, apiBuyer, apiCampaign, apiLead, bearer, type Harness } from './harness';

export type World = Awaited<ReturnType<typeof buildWorld>>;

/** The open offer of a lead, once its workflow has opened it. */
export async function offerOfLead(h: Harness, leadId: string, status: string | null = 'open') {
  return eventually(async () => {
    const rows = await h.database.db.select().from(offers).where(eq(offers.leadId, leadId));
    return rows.find((o) => status === null || o.status === status);
  }, 20_000, `offer of lead ${leadId}`);
}

/** Claims an offer through the API and expects the win. */
export async function winOffer(h: Harness, buyerKey: string, offerId: string) {
  const res = await h.http.post(`/v1/offers/${offerId}/claim`).set(bearer(buyerKey)).send({});
  if (res.status !== 200) throw new Error(`claim: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { assignmentId: string; charged: number; balance: number; lead: Record<string, unknown> };
}

/** A source of the agency allowed on one campaign (30 % of the sale), with its key. */
export async function apiSourceFor(h: Harness, adminKey: string, campaignId: string) {
  const res = await h.http.post('/v1/sources').set(bearer(adminKey)).send({ name: `source-${Date.now().toString(36)}` });
  if (res.status !== 201) throw new Error(`source: ${res.status} ${JSON.stringify(res.body)}`);
  const rule = await h.http
    .post(`/v1/sources/${res.body.source.id}/campaigns`)
    .set(bearer(adminKey))
    .send({ campaignId, payout: { kind: 'share', shareBps: 3000 } });
  if (rule.status !== 200) throw new Error(`source rule: ${rule.status} ${JSON.stringify(rule.body)}`);
  return { source: res.body.source as { id: string }, apiKey: res.body.apiKey as string };
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
  const dispute = await h.http.post(`/v1/assignments/${win2.assignmentId}/disputes`).set(bearer(T.apiKey)).send({ reason: 'wrong number' });
  if (dispute.status !== 201) throw new Error(`dispute: ${dispute.status} ${JSON.stringify(dispute.body)}`);

  const S = await apiSourceFor(h, A.adminKey, campaign.id);
  const R = await apiSourceFor(h, A.adminKey, campaign.id);
  const Z = await apiSourceFor(h, B.adminKey, campaignB.id);
  const pingFields = leadFields();
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(S.apiKey))
    .send({ campaignId: campaign.id, fields: { zip: pingFields.zip, state: pingFields.state, city: pingFields.city, answers: pingFields.answers } });
  if (ping.status !== 200 || ping.body.decision !== 'accepted') throw new Error(`ping: ${ping.status} ${JSON.stringify(ping.body)}`);

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
    disputeId: dispute.body.dispute.id as string,
  };
}
