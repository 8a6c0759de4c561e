/**
 * A sealed bid whose answer was lost (503 bid_pending) and that the client
 * retries with the same requestId after the window closed: the bid stood, it
 * wins and is charged, so the retry must not be told `offer_closed`. (The
 * claim path had the same flaw; both now refuse without the workflow only an
 * offer the database shows closed, and then re-read what the request placed.)
 */
import { apiAgency, apiBuyer, apiCampaign, apiLead, bearer, type Harness, startHarness } from '../api/harness';
import { offerOfLead } from '../api/world';

jest.setTimeout(60_000);

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

test('a bid retried after the window, whose first answer was lost, is never told offer_closed when it won and was charged', async () => {
  // An instance that gives up on the workflow at once: the bid is accepted, its answer lost (503).
  const impatient = await h.startInstance({ claimTimeoutMs: 1 });
  try {
    const { adminKey } = await apiAgency(h);
    const bidder = await apiBuyer(h, adminKey, { credits: 100 });
    const campaign = await apiCampaign(h, adminKey, {
      claimWindowSeconds: 3,
      auction: 'highest_bid',
      floorPrice: 20,
      pricing: 'first_price',
    });
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id);
    const bid = (via = h.http) =>
      via.post(`/v1/offers/${offer.id}/bids`).set(bearer(bidder.apiKey)).send({ amount: 30, requestId: 'answer-lost' });
    expect((await bid(impatient.http)).status).toBe(503);

    await new Promise((r) => setTimeout(r, Math.max(0, offer.closesAt.getTime() - Date.now()) + 300));
    let retry = await bid();
    for (let i = 0; retry.status === 503 && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250));
      retry = await bid();
    }
    await offerOfLead(h, lead.id, 'won');
    const wallet = await h.http.get('/v1/me/wallet').set(bearer(bidder.apiKey));
    expect(wallet.body.balance).toBe(70); // it won at its bid
    expect(retry.body).not.toEqual({
      result: 'refused',
      reason: 'offer_closed',
      message: 'Closed – bidding has ended',
    });
  } finally {
    await impatient.close();
  }
});
