import {
  checkClaimTimeEligibility,
  checkEligibility,
  type EligibilityInput,
  inServiceArea,
  normalizeZip,
  resolvePool,
} from '../../domain/eligibility';
import type { BuyerProfile } from '../../domain/types';

const buyer = (over: Partial<BuyerProfile> = {}): BuyerProfile => ({
  id: 'b1',
  status: 'active',
  serviceLines: ['roofing'],
  zipCodes: [],
  states: [],
  caps: {},
  ...over,
});

const input = (over: Partial<EligibilityInput> = {}): EligibilityInput => ({
  buyer: buyer(),
  balance: 100,
  counts: { daily: 0, weekly: 0, monthly: 0 },
  lead: { zip: '90210', state: 'CA' },
  serviceLine: 'roofing',
  price: 10,
  campaignPool: null,
  campaignCapReached: null,
  ...over,
});

describe('checkEligibility', () => {
  it('an active, subscribed buyer with credits and no caps is eligible', () => {
    expect(checkEligibility(input())).toEqual({ eligible: true });
  });

  it('a buyer not in the campaign pool is excluded with not_in_campaign_pool', () => {
    expect(checkEligibility(input({ campaignPool: ['b2'] }))).toMatchObject({
      eligible: false,
      reason: 'not_in_campaign_pool',
    });
  });

  it('a buyer in the campaign pool passes that check; a null pool means every buyer', () => {
    expect(checkEligibility(input({ campaignPool: ['b2', 'b1'] }))).toEqual({ eligible: true });
    expect(checkEligibility(input({ campaignPool: null }))).toEqual({ eligible: true });
  });

  it('an empty campaign pool excludes everyone', () => {
    expect(checkEligibility(input({ campaignPool: [] }))).toMatchObject({ reason: 'not_in_campaign_pool' });
  });

  it('a paused buyer is excluded with paused', () => {
    expect(checkEligibility(input({ buyer: buyer({ status: 'paused' }) }))).toEqual({
      eligible: false,
      reason: 'paused',
      detail: 'buyer is paused',
    });
  });

  it('a buyer without the service line is excluded with not_subscribed', () => {
    expect(checkEligibility(input({ serviceLine: 'plumbing' }))).toEqual({
      eligible: false,
      reason: 'not_subscribed',
      detail: 'not subscribed to plumbing',
    });
  });

  it('a lead outside the buyer’s ZIPs and states is excluded with outside_service_area', () => {
    expect(checkEligibility(input({ buyer: buyer({ zipCodes: ['10001'], states: ['NY'] }) }))).toEqual({
      eligible: false,
      reason: 'outside_service_area',
      detail: 'ZIP 90210 and state CA outside the service area',
    });
    expect(checkEligibility(input({ buyer: buyer({ zipCodes: ['10001'] }), lead: { zip: '90210-1234' } }))).toEqual({
      eligible: false,
      reason: 'outside_service_area',
      detail: 'ZIP 90210 outside the service area',
    });
  });

  it('a buyer at its daily cap is excluded with cap_reached', () => {
    expect(
      checkEligibility(input({ buyer: buyer({ caps: { daily: 5 } }), counts: { daily: 5, weekly: 5, monthly: 5 } })),
    ).toEqual({
      eligible: false,
      reason: 'cap_reached',
      detail: 'daily cap of 5 reached',
    });
  });

  it('a buyer with a cap of 0 is excluded with cap_reached', () => {
    expect(checkEligibility(input({ buyer: buyer({ caps: { monthly: 0 } }) }))).toMatchObject({
      reason: 'cap_reached',
      detail: 'monthly cap of 0 reached',
    });
  });

  it('a campaign at its own cap excludes the buyer with cap_reached', () => {
    expect(checkEligibility(input({ campaignCapReached: 'weekly' }))).toEqual({
      eligible: false,
      reason: 'cap_reached',
      detail: 'campaign weekly cap reached',
    });
  });

  it('the buyer’s cap is reported before the campaign’s', () => {
    expect(
      checkEligibility(
        input({
          buyer: buyer({ caps: { daily: 1 } }),
          counts: { daily: 1, weekly: 1, monthly: 1 },
          campaignCapReached: 'monthly',
        }),
      ),
    ).toMatchObject({ detail: 'daily cap of 1 reached' });
  });

  it('a buyer whose balance is below the price is excluded with insufficient_credits', () => {
    expect(checkEligibility(input({ balance: 3, price: 10 }))).toEqual({
      eligible: false,
      reason: 'insufficient_credits',
      detail: 'balance 3 < price 10',
    });
  });

  it('a balance exactly equal to the price is enough', () => {
    expect(checkEligibility(input({ balance: 10, price: 10 }))).toEqual({ eligible: true });
  });

  it('a free lead can go to a buyer with an empty wallet', () => {
    expect(checkEligibility(input({ balance: 0, price: 0 }))).toEqual({ eligible: true });
  });

  it('the first failing check wins, in the documented order', () => {
    const failing: Partial<EligibilityInput> = {
      campaignPool: ['other'],
      buyer: buyer({ status: 'paused', serviceLines: [], zipCodes: ['10001'], caps: { daily: 0 } }),
      campaignCapReached: 'daily',
      balance: 0,
    };
    const order = [
      'not_in_campaign_pool',
      'paused',
      'not_subscribed',
      'outside_service_area',
      'cap_reached',
      'insufficient_credits',
    ];
    const seen: string[] = [];
    let i = input(failing);
    const fixes: ((x: EligibilityInput) => EligibilityInput)[] = [
      (x) => ({ ...x, campaignPool: null }),
      (x) => ({ ...x, buyer: { ...x.buyer, status: 'active' } }),
      (x) => ({ ...x, buyer: { ...x.buyer, serviceLines: ['roofing'] } }),
      (x) => ({ ...x, buyer: { ...x.buyer, zipCodes: [] } }),
      (x) => ({ ...x, buyer: { ...x.buyer, caps: {} }, campaignCapReached: null }),
      (x) => ({ ...x, balance: 100 }),
    ];
    for (const fix of fixes) {
      const v = checkEligibility(i);
      if (!v.eligible) seen.push(v.reason);
      i = fix(i);
    }
    expect(seen).toEqual(order);
    expect(checkEligibility(i)).toEqual({ eligible: true });
  });
});

describe('service area', () => {
  it('a buyer with neither ZIPs nor states serves everywhere', () => {
    expect(inServiceArea({ zipCodes: [], states: [] }, { zip: '99999' })).toBe(true);
  });

  it('a ZIP in the buyer’s list matches, also as ZIP+4', () => {
    expect(inServiceArea({ zipCodes: ['90210'], states: [] }, { zip: '90210-1234' })).toBe(true);
    expect(inServiceArea({ zipCodes: ['90210-0000'], states: [] }, { zip: '90210' })).toBe(true);
  });

  it('a ZIP that lost its leading zero still matches', () => {
    expect(inServiceArea({ zipCodes: ['2134'], states: [] }, { zip: '02134' })).toBe(true);
  });

  it('a state matches case-insensitively, even when the ZIP does not', () => {
    expect(inServiceArea({ zipCodes: ['10001'], states: ['ca'] }, { zip: '90210', state: ' CA ' })).toBe(true);
  });

  it('a buyer with only states does not serve a lead without a state', () => {
    expect(inServiceArea({ zipCodes: [], states: ['CA'] }, { zip: '90210' })).toBe(false);
  });

  it('ZIPs are whole 5-digit values, not prefixes', () => {
    expect(inServiceArea({ zipCodes: ['902'], states: [] }, { zip: '90210' })).toBe(false);
  });

  it.each([
    ['90210', '90210'],
    ['90210-1234', '90210'],
    ['902101234', '90210'],
    [' 90210 ', '90210'],
    ['501', '00501'],
    ['A1B 2C3', 'A1B 2C3'],
  ])('normalizeZip(%j) = %j', (raw, expected) => {
    expect(normalizeZip(raw)).toBe(expected);
  });
});

describe('resolvePool', () => {
  it('splits buyers into eligible ids and excluded ones with reasons, in input order', () => {
    const result = resolvePool([
      input({ buyer: buyer({ id: 'a' }) }),
      input({ buyer: buyer({ id: 'b', status: 'paused' }) }),
      input({ buyer: buyer({ id: 'c' }) }),
      input({ buyer: buyer({ id: 'd' }), balance: 1 }),
    ]);
    expect(result).toEqual({
      eligible: ['a', 'c'],
      excluded: [
        { buyerId: 'b', reason: 'paused', detail: 'buyer is paused' },
        { buyerId: 'd', reason: 'insufficient_credits', detail: 'balance 1 < price 10' },
      ],
    });
  });

  it('an empty candidate list gives an empty pool', () => {
    expect(resolvePool([])).toEqual({ eligible: [], excluded: [] });
  });
});

describe('checkClaimTimeEligibility', () => {
  it('a buyer still eligible at claim time may claim', () => {
    expect(checkClaimTimeEligibility(input())).toEqual({ eligible: true });
  });

  it.each([
    ['paused', input({ buyer: buyer({ status: 'paused' }) })],
    ['not_subscribed', input({ buyer: buyer({ serviceLines: [] }) })],
    ['outside_service_area', input({ buyer: buyer({ states: ['NY'] }) })],
    ['not_in_campaign_pool', input({ campaignPool: [] })],
  ])('a buyer who became %s fails with eligibility_changed', (exclusion, i) => {
    expect(checkClaimTimeEligibility(i)).toMatchObject({ eligible: false, reason: 'eligibility_changed', exclusion });
  });

  it('a buyer who reached a cap since the offer fails with cap_reached', () => {
    expect(checkClaimTimeEligibility(input({ campaignCapReached: 'daily' }))).toMatchObject({ reason: 'cap_reached' });
  });

  it('a buyer whose balance dropped below the price fails with insufficient_credits', () => {
    expect(checkClaimTimeEligibility(input({ balance: 3 }))).toEqual({
      eligible: false,
      reason: 'insufficient_credits',
      exclusion: 'insufficient_credits',
      detail: 'balance 3 < price 10',
    });
  });
});
