/**
 * The memo of decided offers (claims/decided-offers.ts) on its own: what it answers from which bus events,
 * what it leaves to the slow path (events without winners or targets, older publishers, winners, earlier
 * claimants, other agencies, untargeted buyers), and its bound. The real stack's test is
 * test/api/claim-memo.test.ts.
 */
import { DecidedOffers } from '../../claims/decided-offers';
import type { BusEvent } from '../../db/offer-bus';
import { readConfig } from '../../lib/config';

const sentAt = new Date(0).toISOString();
const opened = (offerId: string, targets: string[], agencyId = 'ag'): BusEvent => ({
  type: 'offer.opened',
  offerId,
  agencyId,
  sentAt,
  offer: { id: offerId, leadId: `lead-${offerId}`, preview: {}, price: 10, auction: 'first_claim', closesAt: sentAt },
  targets,
});
const closed = (offerId: string, winners?: string[], maxWinners?: number): BusEvent => ({
  type: 'offer.closed',
  offerId,
  agencyId: 'ag',
  sentAt,
  ...(winners ? { winners } : {}),
  ...(maxWinners !== undefined ? { maxWinners } : {}),
});
const claim = (offerId: string, buyerId: string, agencyId = 'ag') => ({ offerId, buyerId, agencyId });

test('a sold offer refuses its targeted losers lost_race; a closed one with a place left offer_closed', () => {
  const memo = new DecidedOffers(1000);
  memo.onBusEvent(opened('sold', ['w', 'l1', 'l2']));
  memo.onBusEvent(opened('shared', ['w', 'l1']));
  memo.onBusEvent(opened('expired', ['l1']));
  expect(memo.refusal(claim('sold', 'l1'))).toBeNull(); // open: the slow path decides (and l1 is now a claimant)
  memo.onBusEvent(closed('sold', ['w'], 1));
  memo.onBusEvent(closed('shared', ['w'], 2));
  memo.onBusEvent(closed('expired', [], 1));
  expect(memo.refusal(claim('sold', 'l2'))).toEqual({ reason: 'lost_race', leadId: 'lead-sold' });
  expect(memo.refusal(claim('shared', 'l1'))).toEqual({ reason: 'offer_closed', leadId: 'lead-shared' });
  expect(memo.refusal(claim('expired', 'l1'))).toEqual({ reason: 'offer_closed', leadId: 'lead-expired' });
  expect(memo.stats()).toMatchObject({ offers: 3, decided: 3 });
});

test('never answered from memory: a winner, an earlier claimant, an untargeted buyer, another agency, an unknown offer', () => {
  const memo = new DecidedOffers(1000);
  memo.onBusEvent(opened('o', ['w', 'early', 'late', 'x']));
  expect(memo.refusal(claim('o', 'early'))).toBeNull();
  memo.onBusEvent(closed('o', ['w'], 1));
  expect(memo.refusal(claim('o', 'w'))).toBeNull();
  expect(memo.refusal(claim('o', 'early'))).toBeNull();
  expect(memo.refusal(claim('o', 'outsider'))).toBeNull();
  expect(memo.refusal(claim('o', 'x', 'other-agency'))).toBeNull();
  expect(memo.refusal(claim('unknown', 'late'))).toBeNull();
  expect(memo.refusal(claim('o', 'late'))).toEqual({ reason: 'lost_race', leadId: 'lead-o' });
});

test('a claimant seen before the opening was heard stays a claimant', () => {
  const memo = new DecidedOffers(1000);
  expect(memo.refusal(claim('o', 'b'))).toBeNull();
  memo.onBusEvent(opened('o', ['w', 'b']));
  memo.onBusEvent(closed('o', ['w'], 1));
  expect(memo.refusal(claim('o', 'b'))).toBeNull();
});

test('events that do not say enough leave the offer to the slow path: ids only, older publishers, a close never opened', () => {
  const memo = new DecidedOffers(1000);
  // Too large for NOTIFY: the opening came as ids only.
  memo.onBusEvent({ type: 'offer.opened', offerId: 'big', agencyId: 'ag', sentAt });
  memo.onBusEvent(closed('big', ['w'], 1));
  // An older publisher: no places on the close (lost_race or offer_closed cannot be told), or no winners at all.
  memo.onBusEvent(opened('old', ['w', 'l']));
  memo.onBusEvent(closed('old', ['w']));
  memo.onBusEvent(opened('bare', ['w', 'l']));
  memo.onBusEvent(closed('bare'));
  // Closed, but this process never heard it open (it started later): its targets are unknown.
  memo.onBusEvent(closed('unheard', ['w'], 1));
  for (const offerId of ['big', 'old', 'bare', 'unheard']) expect(memo.refusal(claim(offerId, 'l'))).toBeNull();
  expect(memo.stats().decided).toBe(0);
  // A buyer-access event and a malformed one change nothing.
  memo.onBusEvent({ type: 'buyer.access', agencyId: 'ag', buyerId: 'l', sentAt });
  memo.onBusEvent(null as unknown as BusEvent);
});

test('bounded by the buyer ids it holds: the least recently used offers are forgotten first; 0 remembers nothing', () => {
  const memo = new DecidedOffers(12); // each offer below weighs 1 + 3 targets + 1 winner = 5
  for (const id of ['a', 'b']) {
    memo.onBusEvent(opened(id, ['w', 'l1', 'l2']));
    memo.onBusEvent(closed(id, ['w'], 1));
  }
  expect(memo.refusal(claim('a', 'l1'))?.reason).toBe('lost_race'); // a is now the most recent
  memo.onBusEvent(opened('c', ['w', 'l1', 'l2']));
  memo.onBusEvent(closed('c', ['w'], 1));
  expect(memo.stats()).toEqual({ offers: 2, decided: 2, weight: 10 });
  expect(memo.isDecided('b')).toBe(false);
  expect(memo.refusal(claim('a', 'l2'))?.reason).toBe('lost_race');
  expect(memo.refusal(claim('c', 'l2'))?.reason).toBe('lost_race');

  const off = new DecidedOffers(0);
  off.onBusEvent(opened('a', ['w', 'l']));
  off.onBusEvent(closed('a', ['w'], 1));
  expect(off.refusal(claim('a', 'l'))).toBeNull();
  expect(off.stats()).toEqual({ offers: 0, decided: 0, weight: 0 });
});

test('LW_CLAIM_MEMO_SIZE: 200000 by default, 0 turns the memo off, anything else is refused', () => {
  expect(readConfig({}).LW_CLAIM_MEMO_SIZE).toBe(200_000);
  expect(readConfig({ LW_CLAIM_MEMO_SIZE: '0' }).LW_CLAIM_MEMO_SIZE).toBe(0);
  expect(() => readConfig({ LW_CLAIM_MEMO_SIZE: '-1' })).toThrow(
    'LW_CLAIM_MEMO_SIZE="-1": expected a whole number ≥ 0',
  );
});
