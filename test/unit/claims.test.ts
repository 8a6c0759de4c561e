import { claimOutcomeOf } from '../../domain/claims';
import { CLAIM_FAILURE_REASONS } from '../../domain/types';

describe('claimOutcomeOf', () => {
  it.each([
    ['lost_race', 'lost', 409],
    ['offer_closed', 'lost', 409],
    ['insufficient_credits', 'failed', 402],
    ['not_targeted', 'failed', 403],
    ['eligibility_changed', 'failed', 403],
    ['cap_reached', 'failed', 403],
  ] as const)('%s is %s with HTTP %d', (reason, result, httpStatus) => {
    expect(claimOutcomeOf(reason)).toEqual({ result, httpStatus });
  });

  it('maps every claim failure reason', () => {
    for (const reason of CLAIM_FAILURE_REASONS) expect(() => claimOutcomeOf(reason)).not.toThrow();
  });

  it('returns a fresh object, so callers cannot corrupt the table', () => {
    const o = claimOutcomeOf('lost_race');
    (o as { httpStatus: number }).httpStatus = 500;
    expect(claimOutcomeOf('lost_race').httpStatus).toBe(409);
  });
});
