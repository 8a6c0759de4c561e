/**
 * A target list larger than a NOTIFY payload goes by reference (#26 item 2): two API instances on one Postgres,
 * fanned out through LISTEN/NOTIFY, an agency of 220 buyers (their ids alone are past NOTIFY's 8 kB). The
 * `offer.opened` on the bus carries the offer and the id of the stored list (target_lists), not the ids; each gateway
 * reads the list the first time it sees it and keeps it, so a second offer to the same buyers reaches both feeds
 * with no read at all (`leadwire_feed_event_reads_total`).
 */
import { eq } from 'drizzle-orm';
import type { Pool } from 'pg';

import { createPostgresBus, type OfferBus, type OfferBusEvent } from '../../db/offer-bus';
import { targetLists } from '../../db/schema';
import { sample } from '../helpers/metrics';
import { makeBuyers } from '../helpers/world';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  type ApiInstance,
  apiLead,
  connectFeed,
  type FeedClient,
  type Harness,
  startHarness,
} from './harness';

jest.setTimeout(120_000);

let h: Harness;
let listener: OfferBus;
const heard: OfferBusEvent[] = [];
const clients: FeedClient[] = [];

beforeAll(async () => {
  h = await startHarness({ bus: 'postgres' });
  listener = createPostgresBus(h.database.url!, h.database.raw as Pool);
  listener.subscribe((e) => {
    if (e.type === 'offer.opened') heard.push(e);
  });
  await listener.ready();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await listener?.close();
  await h?.close();
});

/** The feed's `offer.opened` of a lead's offer. */
const openedFor = (leadId: string) => (m: Record<string, unknown>) =>
  m.type === 'offer.opened' && (m.offer as { leadId?: string }).leadId === leadId;

const listReads = async (on: ApiInstance) =>
  sample((await on.http.get('/metrics')).text, 'leadwire_feed_event_reads_total', { what: 'target_list' }) ?? 0;

test('an offer to more buyers than NOTIFY holds reaches feeds on two instances; the same list again costs no read', async () => {
  const a = h.main;
  const b = await h.startInstance();
  const { agency, adminKey } = await apiAgency(a);
  const onA = await apiBuyer(a, adminKey, { credits: 100 });
  const onB = await apiBuyer(a, adminKey, { credits: 100 });
  const others = await makeBuyers(h.database.db, agency.id, 218, { credits: 100 });
  const everyone = [onA.buyer.id, onB.buyer.id, ...others.map((o) => o.id)].sort();
  const campaign = await apiCampaign(a, adminKey);
  const feedA = await connectFeed(a.wsUrl, onA.apiKey);
  const feedB = await connectFeed(b.wsUrl, onB.apiKey);
  clients.push(feedA, feedB);
  await feedA.next((m) => m.type === 'snapshot');
  await feedB.next((m) => m.type === 'snapshot');
  const readsBefore = [await listReads(a), await listReads(b)];

  const first = await apiLead(a, adminKey, campaign.id);
  const openedA = await feedA.next(openedFor(first.id));
  const openedB = await feedB.next(openedFor(first.id));
  expect(openedB).toEqual(openedA);

  // On the bus: the offer and a reference, not the 220 ids; the list is stored under it.
  const event = heard.find((e) => e.offerId === (openedA.offer as { id: string }).id)!;
  expect(event.targets).toBeUndefined();
  expect(event.offer).toMatchObject({ leadId: first.id });
  expect(event.targetsRef).toEqual(expect.any(String));
  expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThan(8000);
  const [list] = await h.database.db.select().from(targetLists).where(eq(targetLists.id, event.targetsRef!));
  expect([...list!.buyerIds].sort()).toEqual(everyone);
  // Each gateway read it once.
  expect([await listReads(a), await listReads(b)]).toEqual(readsBefore.map((n) => n + 1));

  // A second offer to the same buyers: the same reference, fanned out from what the gateways kept.
  const second = await apiLead(a, adminKey, campaign.id);
  const againA = await feedA.next(openedFor(second.id));
  const againB = await feedB.next(openedFor(second.id));
  expect(againB).toEqual(againA);
  const secondEvent = heard.find((e) => e.offerId === (againA.offer as { id: string }).id)!;
  expect(secondEvent.targetsRef).toBe(event.targetsRef);
  expect([await listReads(a), await listReads(b)]).toEqual(readsBefore.map((n) => n + 1));
});
