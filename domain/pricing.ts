import type { LeadFields, PriceRules } from './types';

type Answer = string | number | boolean;

/**
 * Tolerant equality for qualification answers: forms post everything as strings,
 * while rules are typed by hand in JSON, so '1' must match 1, 'Yes' must match
 * 'yes' and 'true' must match true. Strings compare ignoring case and
 * surrounding spaces; otherwise it is strict: 'yes' is not 'y', 1 is not true.
 */
export function answerMatches(answer: Answer | undefined, expected: Answer): boolean {
  if (answer === undefined || answer === null) return false;
  if (typeof answer === typeof expected) {
    return typeof answer === 'string'
      ? answer.trim().toLowerCase() === (expected as string).trim().toLowerCase()
      : answer === expected;
  }
  if (typeof answer === 'boolean' || typeof expected === 'boolean') {
    const b = typeof answer === 'boolean' ? answer : (expected as boolean);
    const other = typeof answer === 'boolean' ? expected : answer;
    return typeof other === 'string' && other.trim().toLowerCase() === String(b);
  }
  // one string, one number
  const str = (typeof answer === 'string' ? answer : expected) as string;
  const num = (typeof answer === 'number' ? answer : expected) as number;
  return str.trim() !== '' && Number(str.trim()) === num;
}

/** Does a tier ZIP (exact "90210" or prefix "902") cover the lead's ZIP? Empty entries would match everything, so they never match. */
function zipCovers(tierZip: string, leadZip: string): boolean {
  const z = String(tierZip).trim();
  return z !== '' && leadZip.startsWith(z);
}

/**
 * The price of a lead in integer credits: base (or the first matching ZIP tier),
 * times the service-line multiplier, plus matching answer adjustments, rounded,
 * never negative (a negative adjustment may discount, but never pays the buyer).
 * Throws on rules that produce a non-finite price: validatePriceRules should have
 * refused them, and silently selling at 0 would lose money.
 */
export function priceLead(rules: PriceRules, lead: Pick<LeadFields, 'zip' | 'answers'>, serviceLine: string): number {
  const zip = String(lead.zip ?? '').trim();
  let price = rules.base;
  const tier = zip ? rules.zipTiers?.find((t) => t.zips.some((z) => zipCovers(z, zip))) : undefined;
  if (tier) price = tier.price;

  const multipliers = rules.multipliers ?? {};
  if (Object.prototype.hasOwnProperty.call(multipliers, serviceLine)) price *= multipliers[serviceLine];

  const answers = lead.answers ?? {};
  for (const adj of rules.adjustments ?? []) {
    const answer = Object.prototype.hasOwnProperty.call(answers, adj.question) ? answers[adj.question] : undefined;
    if (answerMatches(answer, adj.equals)) price += adj.add;
  }

  if (!Number.isFinite(price)) throw new RangeError(`price rules produce a non-finite price (${price})`);
  // Round away float noise first so 10 * 1.15 (= 11.499999…) rounds to 12 like the human expects.
  const rounded = Math.round(Math.round(price * 1e6) / 1e6);
  return Math.max(0, rounded);
}

const isNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);
const isCredits = (n: unknown): n is number => isNum(n) && Number.isInteger(n) && n >= 0;

/**
 * Problems with a campaign's price rules, as sentences the API returns to the
 * admin (empty = valid). Defensive about shapes because it guards raw input.
 */
export function validatePriceRules(rules: PriceRules): string[] {
  const problems: string[] = [];
  if (!rules || typeof rules !== 'object') return ['price rules must be an object'];

  if (!isNum(rules.base)) problems.push('base price must be a number');
  else if (rules.base < 0) problems.push(`base price ${rules.base} is negative`);
  else if (!Number.isInteger(rules.base)) problems.push(`base price ${rules.base} is not a whole number of credits`);

  if (rules.zipTiers !== undefined) {
    if (!Array.isArray(rules.zipTiers)) problems.push('zipTiers must be a list');
    else
      rules.zipTiers.forEach((tier, i) => {
        const label = `ZIP tier ${i + 1}`;
        if (!tier || typeof tier !== 'object') return void problems.push(`${label} must be an object`);
        if (!Array.isArray(tier.zips) || tier.zips.length === 0) problems.push(`${label} has an empty ZIP list`);
        else
          tier.zips.forEach((z) => {
            if (typeof z !== 'string' || !/^\d{1,5}$/.test(z.trim()))
              problems.push(`${label}: "${String(z)}" is not a ZIP code or ZIP prefix (1 to 5 digits)`);
          });
        if (!isCredits(tier.price)) problems.push(`${label} price must be a non-negative whole number of credits`);
      });
  }

  if (rules.multipliers !== undefined) {
    if (!rules.multipliers || typeof rules.multipliers !== 'object' || Array.isArray(rules.multipliers))
      problems.push('multipliers must be an object keyed by service line');
    else
      for (const [line, m] of Object.entries(rules.multipliers)) {
        if (!isNum(m) || m <= 0) problems.push(`multiplier for "${line}" must be a positive number`);
      }
  }

  if (rules.adjustments !== undefined) {
    if (!Array.isArray(rules.adjustments)) problems.push('adjustments must be a list');
    else
      rules.adjustments.forEach((adj, i) => {
        const label = `adjustment ${i + 1}`;
        if (!adj || typeof adj !== 'object') return void problems.push(`${label} must be an object`);
        if (typeof adj.question !== 'string' || adj.question.trim() === '') problems.push(`${label} has no question`);
        if (
          !['string', 'number', 'boolean'].includes(typeof adj.equals) ||
          (typeof adj.equals === 'number' && !isNum(adj.equals))
        )
          problems.push(`${label} must compare to a string, number or boolean`);
        if (!isNum(adj.add) || !Number.isInteger(adj.add))
          problems.push(`${label} amount must be a whole number of credits`);
      });
  }
  return problems;
}
