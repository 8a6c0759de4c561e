/**
 * Hidden fields never leak. Every route a buyer key may call (and the public
 * ones), with every buyer of the agency (the one about to win, one that
 * loses, one the lead excludes) and a buyer of another agency, and every
 * feed frame they receive, including refusals, errors and their own
 * eligibility rows, are scanned for the lead's values outside the
 * campaign's preview set, until the winner's claim; after it, everything
 * the non-winners see still is. The win itself carries them all (so the
 * scan would find them). Offer alerts (#12) on the buyers' webhook and SMS
 * channels, and the outbox rows behind them, are scanned too.
 */
import crypto from 'node:crypto';

import { eq } from 'drizzle-orm';

import { resolveDeliveryConfig } from '../../activities/channels/config';
import { buyerAlerts } from '../../db/schema';
import { hiddenValues } from '../../domain/preview';
import { startAlertDispatcher } from '../../worker/alert-dispatcher';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  connectFeed,
  type FeedClient,
  type Harness,
  leadFields,
  startHarness,
} from '../api/harness';
import { offerOfLead, winOffer } from '../api/world';
import { type Recorded, startRecorder } from '../helpers/recorder';

jest.setTimeout(120_000);

let h: Harness;
let stopAlerts: () => void;
/** The buyers' webhooks and the SMS provider: every alert request they received. */
let recorder: Awaited<ReturnType<typeof startRecorder>>;
let alertsReceived: Recorded[] = [];
let alertUrl = '';

beforeAll(async () => {
  recorder = await startRecorder();
  ({ received: alertsReceived, url: alertUrl } = recorder);
  h = await startHarness({ api: { webhookAllowlist: '127.0.0.1' } });
  stopAlerts = startAlertDispatcher({
    db: h.database.db,
    delivery: resolveDeliveryConfig({
      allowlist: '127.0.0.1',
      smsProviderUrl: `${alertUrl}/sms`,
      smtpUrl: null,
      timeoutMs: 2000,
    }),
    publicUrl: h.main.baseUrl,
    everyMs: 100,
  });
});

afterAll(async () => {
  stopAlerts?.();
  await h?.close();
  await recorder?.close();
});

/** Ids and times are random strings that could contain a short hidden value (a ZIP) by chance: they are not lead data. */
function scrub(value: unknown): string {
  return JSON.stringify(value)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>');
}

/**
 * The hidden values found in `value`, each as a whole token (not inside a longer run of letters and digits): a
 * two-letter value (a state, "WY") inside a random encoding (a base64 signature, a token) is chance, not a leak.
 */
function leaks(value: unknown, hidden: string[]): string[] {
  const text = scrub(value);
  const found = (v: string) =>
    new RegExp(`(?<![A-Za-z0-9])${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9])`).test(text);
  return hidden.filter((v) => found(v) || found(JSON.stringify(v).slice(1, -1)));
}

type Buyer = Awaited<ReturnType<typeof apiBuyer>>;

test('no buyer-facing answer or feed frame before the win holds a hidden value of the lead', async () => {
  const { adminKey } = await apiAgency(h);
  const other = await apiAgency(h);
  const winner = await apiBuyer(h, adminKey, { credits: 500 });
  const loser = await apiBuyer(h, adminKey, { credits: 500 });
  const excluded = await apiBuyer(h, adminKey, { credits: 500, zipCodes: ['10001'] });
  const foreign = await apiBuyer(h, other.adminKey, { credits: 500 });
  const buyers: [string, Buyer][] = [
    ['winner', winner],
    ['loser', loser],
    ['excluded', excluded],
    ['foreign', foreign],
  ];
  // The winner and the loser are alerted on their webhook and by SMS when the offer opens.
  for (const [name, b] of [
    ['winner', winner],
    ['loser', loser],
  ] as const) {
    const set = await h.http
      .patch(`/v1/buyers/${b.buyer.id}`)
      .set(bearer(adminKey))
      .send({
        delivery: { webhookUrl: `${alertUrl}/hook-${name}`, smsTo: '+15125550199' },
        alerts: { channels: ['webhook', 'sms'] },
      });
    expect(set.status).toBe(200);
  }

  const previewFields = ['city', 'answers.homeowner'];
  const campaign = await apiCampaign(h, adminKey, { previewFields, claimWindowSeconds: 60 });
  // An earlier lead the winner owns, so /v1/me/leads, ledgers and disputes have content (of another lead).
  const earlier = await apiLead(h, adminKey, campaign.id);
  const earlierWin = await winOffer(h, winner.apiKey, (await offerOfLead(h, earlier.id)).id);

  const feeds = new Map<string, FeedClient>();
  for (const [name, b] of buyers) {
    const f = await connectFeed(h.main.wsUrl, b.apiKey);
    await f.next((m) => m.type === 'snapshot');
    feeds.set(name, f);
  }

  const fields = leadFields({
    firstName: 'Zebulon',
    lastName: 'Quackenbush',
    phone: '3075550143',
    email: 'zebulon.hidden@example.org',
    address: '742 Evergreen Terrace',
    city: 'Cheyenne',
    state: 'WY',
    zip: '82001',
    answers: { homeowner: 'yes', budget: 'budget-secret-9931', notes: 'call after six, ask for Zeb' },
  });
  const hidden = hiddenValues(fields, previewFields);
  expect(hidden).toEqual(
    expect.arrayContaining([
      'Zebulon',
      'Quackenbush',
      '3075550143',
      'zebulon.hidden@example.org',
      '742 Evergreen Terrace',
      'WY',
      '82001',
      'budget-secret-9931',
    ]),
  );
  const lead = await apiLead(h, adminKey, campaign.id, fields);
  const offer = await offerOfLead(h, lead.id);
  for (const name of ['winner', 'loser']) await feeds.get(name)!.next((m) => m.type === 'offer.opened');
  // Its alerts: 2 buyers × (webhook, SMS), sent before anyone claims.
  const alertsOf = () => alertsReceived.filter((a) => a.body.includes(offer.id));
  const deadline = Date.now() + 20_000;
  while (alertsOf().length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(
    alertsOf()
      .map((a) => a.path)
      .sort(),
  ).toEqual(['/hook-loser', '/hook-winner', '/sms', '/sms']);
  const outbox = await h.database.db
    .select({ payload: buyerAlerts.payload })
    .from(buyerAlerts)
    .where(eq(buyerAlerts.offerId, offer.id));
  expect(outbox).toHaveLength(4);
  expect({ who: 'offer alerts and their outbox rows', leaks: leaks([alertsOf(), outbox], hidden) }).toEqual({
    who: 'offer alerts and their outbox rows',
    leaks: [],
  });

  // Every buyer-facing route (and the public ones), every buyer, with this offer's and lead's ids.
  const seen: Record<string, unknown[]> = { winner: [], loser: [], excluded: [], foreign: [] };
  // The public routes too, but not the static documents (the OpenAPI and AsyncAPI documents, the docs page) nor the metrics, whose numbers may hold a ZIP-like run of digits.
  const STATIC = ['/v1/feed', '/v1/docs', '/v1/openapi.json', '/v1/asyncapi.json', '/metrics'];
  const routes = h.main.api.routes.filter(
    (r) => (r.roles.length === 0 || r.roles.includes('buyer')) && !STATIC.includes(r.path),
  );
  const idFor = (path: string) =>
    path.startsWith('/v1/offers/')
      ? offer.id
      : path.startsWith('/v1/assignments/')
        ? earlierWin.assignmentId
        : path.startsWith('/v1/leads/')
          ? lead.id
          : crypto.randomUUID();
  const bodyFor = (path: string) =>
    path.endsWith('/bids')
      ? { amount: 50, requestId: 'bid-1' }
      : path.endsWith('/disputes')
        ? { reason: 'checking' }
        : path.endsWith('/claim')
          ? { requestId: 'c-1' }
          : {};
  for (const [name, b] of buyers) {
    for (const route of routes) {
      // The winner's and the loser's claims are the race itself: the loser claims after the win, below.
      if (route.path.endsWith('/claim') && (name === 'winner' || name === 'loser')) continue;
      const url = route.path.replace(':id', idFor(route.path));
      let req = h.http[route.method as 'get' | 'post' | 'patch'](url).set(bearer(b.apiKey));
      const res = route.method === 'get' ? await req : await (req = req.send(bodyFor(route.path)));
      expect(res.status).toBeLessThan(500);
      seen[name]!.push({ route: `${route.method} ${url}`, status: res.status, body: res.body ?? res.text });
    }
    for (const q of ['?status=open', '?status=won', '?status=expired', `?limit=1`])
      seen[name]!.push((await h.http.get(`/v1/offers${q}`).set(bearer(b.apiKey))).body);
    const own = await h.http.get(`/v1/offers/${offer.id}/eligibility?buyerId=${b.buyer.id}`).set(bearer(b.apiKey));
    seen[name]!.push(own.body);
    // Feed frames that make the gateway answer: viewed, a claim (only those who are not in the race), a bid, junk.
    const feed = feeds.get(name)!;
    const answered = feed.messages.length;
    feed.send({ type: 'viewed', offerId: offer.id });
    feed.send({ type: 'bid', offerId: offer.id, amount: 50, requestId: `bid-${name}` });
    if (name === 'excluded' || name === 'foreign')
      feed.send({ type: 'claim', offerId: offer.id, requestId: `ws-${name}` });
    feed.send({ type: 'claim', offerId: offer.id });
    await feed.next((m) => feed.messages.indexOf(m) >= answered && m.type === 'error' && !m.requestId, 10_000);
  }
  // The excluded buyer's own row says why, in words that quote nothing of the lead.
  const mine = await h.http.get(`/v1/offers/${offer.id}/eligibility`).set(bearer(excluded.apiKey));
  expect(mine.body.candidates).toEqual([
    expect.objectContaining({ buyerId: excluded.buyer.id, eligible: false, reason: 'outside_service_area' }),
  ]);

  const winnerBefore = [...seen.winner!, ...feeds.get('winner')!.messages];
  expect({ who: 'winner before the win', leaks: leaks(winnerBefore, hidden) }).toEqual({
    who: 'winner before the win',
    leaks: [],
  });

  // The win, then the loser's too-late claim on REST and the feed, and the close.
  const won = await h.http
    .post(`/v1/offers/${offer.id}/claim`)
    .set(bearer(winner.apiKey))
    .send({ requestId: 'the-win' });
  expect(won.status).toBe(200);
  expect(leaks(won.body, hidden).sort()).toEqual([...hidden].sort()); // the scan does see them
  seen.loser!.push(
    (await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(loser.apiKey)).send({ requestId: 'too-late' })).body,
  );
  feeds.get('loser')!.send({ type: 'claim', offerId: offer.id, requestId: 'ws-too-late' });
  await feeds.get('loser')!.next((m) => m.type === 'claim.result' && m.requestId === 'ws-too-late');
  await feeds.get('loser')!.next((m) => m.type === 'offer.closed');
  for (const [name, b] of buyers.filter(([n]) => n !== 'winner')) {
    for (const path of ['/v1/me/leads', '/v1/me/ledger', `/v1/offers/${offer.id}/eligibility`, '/v1/offers?status=won'])
      seen[name]!.push((await h.http.get(path).set(bearer(b.apiKey))).body);
  }

  for (const name of ['loser', 'excluded', 'foreign']) {
    const all = [...seen[name]!, ...feeds.get(name)!.messages];
    expect({ who: name, leaks: leaks(all, hidden) }).toEqual({ who: name, leaks: [] });
  }
  const frames = [...feeds.values()].reduce((n, f) => n + f.messages.length, 0);
  const answers = Object.values(seen).reduce((n, s) => n + s.length, 0);
  process.stdout.write(
    `[security] hidden values (${hidden.length}) absent from ${answers} buyer-facing answers and ${frames} feed frames\n`,
  );
  for (const f of feeds.values()) await f.close();
});
