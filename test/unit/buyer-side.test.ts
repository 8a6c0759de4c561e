/**
 * The buyer's side as pure rules (#12): hours of operation and pauses (both
 * DST edges in America/New_York, with an injected clock), lead filters (every
 * operator, all/any, an unknown field, a qualification answer), their wiring
 * into eligibility (outside_hours, filter_mismatch, and at claim time),
 * per-buyer prices, quiet hours and pipeline transitions.
 */
import { buyerPrice, inQuietHours, offerAlertChannels, pipelineMoveProblem } from '../../domain/buyer-side';
import { checkClaimTimeEligibility, checkEligibility, type EligibilityInput } from '../../domain/eligibility';
import { evaluateFilters, type FilterRule, type LeadFilters } from '../../domain/filters';
import {
  availability,
  inSchedule,
  nextScheduleStart,
  scheduleProblems,
  type WeeklySchedule,
} from '../../domain/schedule';
import type { BuyerProfile } from '../../domain/types';

const NY = 'America/New_York';
const at = (iso: string) => new Date(iso);
const WEEKDAYS_9_TO_5: WeeklySchedule = Object.fromEntries(
  ['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, [{ from: '08:00', to: '17:00' }]]),
);

describe('hours of operation', () => {
  it('open inside a range on the wall clock, closed outside, in the buyer zone', () => {
    // Tuesday 2026-06-09 08:30 EDT = 12:30Z; 07:59 EDT = 11:59Z; 17:00 EDT = 21:00Z (to is exclusive).
    expect(inSchedule(WEEKDAYS_9_TO_5, at('2026-06-09T12:30:00Z'), NY)).toBe(true);
    expect(inSchedule(WEEKDAYS_9_TO_5, at('2026-06-09T11:59:00Z'), NY)).toBe(false);
    expect(inSchedule(WEEKDAYS_9_TO_5, at('2026-06-09T21:00:00Z'), NY)).toBe(false);
    expect(inSchedule(WEEKDAYS_9_TO_5, at('2026-06-09T12:30:00Z'), 'UTC')).toBe(true);
  });

  it('spring forward (2026-03-08): a range starting in the skipped hour opens at the transition; the next Monday opens at 08:00 EDT', () => {
    const sunday: WeeklySchedule = { sun: [{ from: '02:30', to: '05:00' }] };
    // 01:00 EST, before the jump: closed, opens at 03:00 EDT = 07:00Z (02:30 never happens).
    expect(availability({ schedule: sunday, pauses: [], timeZone: NY, now: at('2026-03-08T06:00:00Z') })).toEqual({
      open: false,
      why: 'schedule',
      opensAt: at('2026-03-08T07:00:00Z'),
    });
    expect(availability({ schedule: sunday, pauses: [], timeZone: NY, now: at('2026-03-08T07:30:00Z') })).toEqual({
      open: true,
    });
    // Saturday noon EST → Monday 08:00 EDT (12:00Z, not 13:00Z).
    expect(
      availability({ schedule: WEEKDAYS_9_TO_5, pauses: [], timeZone: NY, now: at('2026-03-07T17:00:00Z') }),
    ).toMatchObject({ opensAt: at('2026-03-09T12:00:00Z') });
    // Friday 16:59 EST is open; 17:00 EST closed.
    expect(inSchedule(WEEKDAYS_9_TO_5, at('2026-03-06T21:59:00Z'), NY)).toBe(true);
    expect(inSchedule(WEEKDAYS_9_TO_5, at('2026-03-06T22:00:00Z'), NY)).toBe(false);
  });

  it('fall back (2026-11-01): the repeated hour is open both times; it opens at the first 01:00; the next Monday opens at 08:00 EST', () => {
    const sunday: WeeklySchedule = { sun: [{ from: '01:00', to: '02:00' }] };
    expect(inSchedule(sunday, at('2026-11-01T05:30:00Z'), NY)).toBe(true); // 01:30 EDT
    expect(inSchedule(sunday, at('2026-11-01T06:30:00Z'), NY)).toBe(true); // 01:30 EST
    expect(inSchedule(sunday, at('2026-11-01T07:00:00Z'), NY)).toBe(false); // 02:00 EST
    expect(nextScheduleStart(sunday, at('2026-11-01T04:30:00Z'), NY)).toEqual(at('2026-11-01T05:00:00Z')); // 01:00 EDT, not EST
    expect(nextScheduleStart(sunday, at('2026-11-01T07:00:00Z'), NY)).toEqual(at('2026-11-08T06:00:00Z')); // next Sunday 01:00 EST
    // Saturday noon EDT → Monday 08:00 EST (13:00Z).
    expect(
      availability({ schedule: WEEKDAYS_9_TO_5, pauses: [], timeZone: NY, now: at('2026-10-31T16:00:00Z') }),
    ).toMatchObject({ opensAt: at('2026-11-02T13:00:00Z') });
  });

  it('a pause with an end closes the buyer until then; a pause ending after hours opens at the next range', () => {
    const now = at('2026-06-09T14:00:00Z'); // Tuesday 10:00 EDT, inside hours
    const until = '2026-06-09T16:00:00Z';
    expect(
      availability({ schedule: WEEKDAYS_9_TO_5, pauses: [{ until, note: 'at the dentist' }], timeZone: NY, now }),
    ).toEqual({ open: false, why: 'pause', opensAt: at(until), note: 'at the dentist' });
    // "back Monday 8:00": paused from Friday 12:00 until Saturday; the next opening is Monday 08:00 EDT.
    const friday = at('2026-06-12T16:00:00Z');
    expect(
      availability({
        schedule: WEEKDAYS_9_TO_5,
        pauses: [{ until: '2026-06-13T12:00:00Z' }],
        timeZone: NY,
        now: friday,
      }),
    ).toMatchObject({ why: 'pause', opensAt: at('2026-06-15T12:00:00Z') });
    // A past pause and a future one do not close it now; no schedule = always open.
    expect(
      availability({
        schedule: null,
        pauses: [{ until: '2026-06-01T00:00:00Z' }, { from: '2026-07-01T00:00:00Z', until: '2026-07-02T00:00:00Z' }],
        timeZone: NY,
        now,
      }),
    ).toEqual({ open: true });
  });

  it('a schedule with no range never opens; malformed or overlapping ranges are named', () => {
    expect(availability({ schedule: {}, pauses: [], timeZone: NY, now: at('2026-06-09T14:00:00Z') })).toEqual({
      open: false,
      why: 'schedule',
      opensAt: null,
    });
    expect(
      scheduleProblems({
        mon: [{ from: '09:00', to: '08:00' }],
        tue: [
          { from: '08:00', to: '12:00' },
          { from: '11:00', to: '13:00' },
        ],
        wed: [{ from: '25:00', to: '26:00' }],
      }).map(([p]) => p),
    ).toEqual(['mon.0.to', 'tue.1', 'wed.0.from']);
  });
});

describe('lead filters', () => {
  const lead = {
    zip: '78701',
    state: 'TX',
    city: 'Austin',
    email: 'a@b.co',
    answers: { roofType: 'Repair', squareFeet: '2400', homeowner: true },
  };
  const one = (rule: FilterRule) => evaluateFilters({ match: 'all', rules: [rule] }, lead).pass;

  it('equals (case- and type-insensitive), in, not_in, range, present, absent', () => {
    expect(one({ field: 'state', op: 'equals', value: 'tx' })).toBe(true);
    expect(one({ field: 'state', op: 'equals', value: 'CA' })).toBe(false);
    expect(one({ field: 'answers.homeowner', op: 'equals', value: true })).toBe(true);
    expect(one({ field: 'zip', op: 'equals', value: 78701 })).toBe(true);
    expect(one({ field: 'answers.roofType', op: 'in', values: ['replace', 'repair'] })).toBe(true);
    expect(one({ field: 'answers.roofType', op: 'in', values: ['replace'] })).toBe(false);
    expect(one({ field: 'answers.roofType', op: 'not_in', values: ['replace'] })).toBe(true);
    expect(one({ field: 'answers.roofType', op: 'not_in', values: ['REPAIR'] })).toBe(false);
    expect(one({ field: 'answers.squareFeet', op: 'range', min: 1000, max: 3000 })).toBe(true);
    expect(one({ field: 'answers.squareFeet', op: 'range', min: 2500 })).toBe(false);
    expect(one({ field: 'answers.squareFeet', op: 'range', max: 2400 })).toBe(true);
    expect(one({ field: 'city', op: 'range', min: 0 })).toBe(false); // not a number
    expect(one({ field: 'email', op: 'present' })).toBe(true);
    expect(one({ field: 'address', op: 'present' })).toBe(false);
    expect(one({ field: 'address', op: 'absent' })).toBe(true);
  });

  it('a field the lead does not have (an unknown answer) fails equals, in and range, passes not_in and absent', () => {
    expect(one({ field: 'answers.budget', op: 'equals', value: 'high' })).toBe(false);
    expect(one({ field: 'answers.budget', op: 'in', values: ['high'] })).toBe(false);
    expect(one({ field: 'answers.budget', op: 'range', min: 0 })).toBe(false);
    expect(one({ field: 'answers.budget', op: 'not_in', values: ['low'] })).toBe(true);
    expect(one({ field: 'answers.budget', op: 'absent' })).toBe(true);
  });

  it('all needs every rule and names every failing one, the first first; any needs one and names them all', () => {
    const rules: FilterRule[] = [
      { field: 'state', op: 'equals', value: 'TX' },
      { field: 'answers.roofType', op: 'in', values: ['replace'] },
      { field: 'answers.squareFeet', op: 'range', min: 5000 },
    ];
    expect(evaluateFilters({ match: 'all', rules }, lead)).toEqual({
      pass: false,
      failed: [
        { index: 1, rule: 'answers.roofType in [replace]' },
        { index: 2, rule: 'answers.squareFeet in range 5000..∞' },
      ],
      detail: 'filter rules 2, 3 failed: answers.roofType in [replace]; answers.squareFeet in range 5000..∞',
    });
    expect(evaluateFilters({ match: 'any', rules }, lead)).toEqual({ pass: true });
    const none = evaluateFilters({ match: 'any', rules: rules.slice(1) }, lead);
    expect(none).toMatchObject({
      pass: false,
      detail: 'no filter rule matched (any of: answers.roofType in [replace]; answers.squareFeet in range 5000..∞)',
    });
    expect(evaluateFilters(null, lead)).toEqual({ pass: true });
    expect(evaluateFilters({ match: 'all', rules: [] }, lead)).toEqual({ pass: true });
  });
});

describe('eligibility with hours and filters', () => {
  const buyer = (over: Partial<BuyerProfile> = {}): BuyerProfile => ({
    id: 'b1',
    status: 'active',
    serviceLines: ['roofing'],
    zipCodes: [],
    states: [],
    caps: {},
    timeZone: NY,
    ...over,
  });
  const input = (over: Partial<EligibilityInput> = {}): EligibilityInput => ({
    buyer: buyer(),
    balance: 100,
    counts: { daily: 0, weekly: 0, monthly: 0 },
    lead: { zip: '78701', state: 'TX', answers: { roofType: 'repair' } },
    serviceLine: 'roofing',
    price: 10,
    campaignPool: null,
    campaignCapReached: null,
    now: at('2026-06-13T16:00:00Z'), // Saturday noon EDT
    ...over,
  });
  const filters: LeadFilters = { match: 'all', rules: [{ field: 'answers.roofType', op: 'equals', value: 'replace' }] };

  it('outside its hours a buyer is excluded with outside_hours and when it opens again; inside them it is eligible', () => {
    const v = checkEligibility(input({ buyer: buyer({ schedule: WEEKDAYS_9_TO_5 }) }));
    expect(v).toEqual({
      eligible: false,
      reason: 'outside_hours',
      detail: 'outside hours of operation; opens again Mon 2026-06-15 08:00 (America/New_York)',
      opensAt: '2026-06-15T12:00:00.000Z',
    });
    expect(
      checkEligibility(input({ buyer: buyer({ schedule: WEEKDAYS_9_TO_5 }), now: at('2026-06-15T12:00:00Z') })),
    ).toEqual({ eligible: true });
  });

  it('a paused-until buyer is outside_hours with the pause note', () => {
    expect(
      checkEligibility(input({ buyer: buyer({ pauses: [{ until: '2026-06-13T18:00:00Z', note: 'on a roof' }] }) })),
    ).toMatchObject({
      reason: 'outside_hours',
      detail: 'paused (on a roof); opens again Sat 2026-06-13 14:00 (America/New_York)',
    });
  });

  it('filters that refuse the lead exclude it with filter_mismatch naming the rule; a schedule needs an instant', () => {
    expect(checkEligibility(input({ buyer: buyer({ filters }) }))).toEqual({
      eligible: false,
      reason: 'filter_mismatch',
      detail: 'filter rule 1 failed: answers.roofType equals replace',
      failedRules: [{ index: 0, rule: 'answers.roofType equals replace' }],
    });
    expect(() => checkEligibility(input({ buyer: buyer({ schedule: WEEKDAYS_9_TO_5 }), now: undefined }))).toThrow(
      /no instant/,
    );
  });

  it('order: status before hours, hours before targeting, filters after the area and before caps and money', () => {
    expect(checkEligibility(input({ buyer: buyer({ status: 'paused', schedule: {} }) }))).toMatchObject({
      reason: 'paused',
    });
    expect(checkEligibility(input({ buyer: buyer({ schedule: {}, serviceLines: [] }) }))).toMatchObject({
      reason: 'outside_hours',
    });
    expect(checkEligibility(input({ buyer: buyer({ filters, states: ['CA'] }) }))).toMatchObject({
      reason: 'outside_service_area',
    });
    expect(checkEligibility(input({ buyer: buyer({ filters }), balance: 0 }))).toMatchObject({
      reason: 'filter_mismatch',
    });
  });

  it('at claim time, hours and filters refuse as eligibility_changed with the precise rule kept', () => {
    expect(checkClaimTimeEligibility(input({ buyer: buyer({ schedule: WEEKDAYS_9_TO_5 }) }))).toMatchObject({
      eligible: false,
      reason: 'eligibility_changed',
      exclusion: 'outside_hours',
    });
    expect(checkClaimTimeEligibility(input({ buyer: buyer({ filters }) }))).toMatchObject({
      eligible: false,
      reason: 'eligibility_changed',
      exclusion: 'filter_mismatch',
    });
  });
});

describe('per-buyer price, alerts, pipeline', () => {
  it('a fixed price replaces the campaign price; a percentage moves it, rounded, never below 0', () => {
    expect(buyerPrice(25, null)).toBe(25);
    expect(buyerPrice(25, { kind: 'fixed', value: 40 })).toBe(40);
    expect(buyerPrice(25, { kind: 'percent', value: 20 })).toBe(30);
    expect(buyerPrice(25, { kind: 'percent', value: -10 })).toBe(23); // 22.5 rounds half up
    expect(buyerPrice(25, { kind: 'percent', value: -100 })).toBe(0);
  });

  it('offer alerts: only chosen and set-up channels, at or above the minimum price, outside quiet hours (which may span midnight)', () => {
    const configured = (c: string) => c !== 'voice';
    const now = at('2026-06-09T14:00:00Z'); // 10:00 EDT
    expect(offerAlertChannels({}, configured, { price: 10, now, timeZone: NY })).toEqual([]);
    expect(
      offerAlertChannels({ channels: ['sms', 'voice', 'webhook'] }, configured, { price: 10, now, timeZone: NY }),
    ).toEqual(['sms', 'webhook']);
    expect(
      offerAlertChannels({ channels: ['sms'], minPrice: 11 }, configured, { price: 10, now, timeZone: NY }),
    ).toEqual([]);
    expect(
      offerAlertChannels({ channels: ['sms'], quietHours: { from: '09:00', to: '11:00' } }, configured, {
        price: 10,
        now,
        timeZone: NY,
      }),
    ).toEqual([]);
    expect(inQuietHours({ from: '21:00', to: '07:00' }, at('2026-06-09T03:00:00Z'), NY)).toBe(true); // 23:00 EDT
    expect(inQuietHours({ from: '21:00', to: '07:00' }, now, NY)).toBe(false);
  });

  it('pipeline: forward (steps may be skipped), the same status again, lost_job from anywhere open; never back, never out of a final status', () => {
    expect(pipelineMoveProblem(null, 'contacted')).toBeNull();
    expect(pipelineMoveProblem('contacted', 'quoted')).toBeNull();
    expect(pipelineMoveProblem('quoted', 'quoted')).toBeNull();
    expect(pipelineMoveProblem('new', 'lost_job')).toBeNull();
    expect(pipelineMoveProblem('quoted', 'contacted')).toBe('cannot go back from quoted to contacted');
    expect(pipelineMoveProblem('won_job', 'lost_job')).toBe('the lead is already won_job; that is final');
    expect(pipelineMoveProblem('lost_job', 'won_job')).toBe('the lead is already lost_job; that is final');
  });
});
