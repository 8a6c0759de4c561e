import { bidRefusalOf, claimOutcomeOf, isLost, noPlaceLeft } from '../../claims/vocabulary';
import { BID_REFUSAL_REASONS, CLAIM_FAILURE_REASONS } from '../../domain/types';

describe('claimOutcomeOf', () => {
  it.each([
    ['lost_race', 'lost', 409],
    ['offer_closed', 'lost', 409],
    ['insufficient_credits', 'failed', 402],
    ['not_targeted', 'failed', 403],
    ['eligibility_changed', 'failed', 403],
    ['cap_reached', 'failed', 403],
  ] as const)('%s is %s with HTTP %d', (reason, result, httpStatus) => {
    expect(claimOutcomeOf(reason)).toMatchObject({ result, httpStatus });
    expect(isLost(reason)).toBe(result === 'lost');
  });

  it('gives every claim failure reason an outcome, an HTTP status and words for the buyer', () => {
    for (const reason of CLAIM_FAILURE_REASONS) {
      const o = claimOutcomeOf(reason);
      expect([409, 402, 403]).toContain(o.httpStatus);
      expect(o.message.length).toBeGreaterThan(5);
    }
  });

  it('gives every bid refusal an HTTP status and words for the buyer', () => {
    for (const reason of BID_REFUSAL_REASONS) {
      const o = bidRefusalOf(reason);
      expect([402, 403, 409, 422]).toContain(o.httpStatus);
      expect(o.message.length).toBeGreaterThan(5);
    }
  });

  it('knows no reason outside the vocabulary as lost', () => {
    expect(isLost('taken')).toBe(false);
    expect(isLost('toString')).toBe(false);
  });

  it('returns a fresh object, so callers cannot corrupt the table', () => {
    const o = claimOutcomeOf('lost_race');
    (o as { httpStatus: number }).httpStatus = 500;
    expect(claimOutcomeOf('lost_race').httpStatus).toBe(409);
  });
});

describe('noPlaceLeft', () => {
  it('is lost_race once every place is sold, whatever the clock says', () => {
    expect(noPlaceLeft({ winners: 1, maxWinners: 1, open: true })).toBe('lost_race');
    expect(noPlaceLeft({ winners: 2, maxWinners: 2, open: false })).toBe('lost_race');
  });
  it('is offer_closed for an offer over with places left, and null while one is left and it is open', () => {
    expect(noPlaceLeft({ winners: 1, maxWinners: 2, open: false })).toBe('offer_closed');
    expect(noPlaceLeft({ winners: 0, maxWinners: 1, open: true })).toBeNull();
  });
});
