/**
 * Third-party scrubs (#23 item 5): an agency turns on a TCPA litigator list
 * and a phone line status look-up, with the provider's base URL and
 * credentials (sealed by the key store, never answered back), a monthly budget
 * of calls, a timeout and the circuit breaker's threshold and cool-down; and
 * sees each one's calls this month and its circuit. Intake runs them
 * (api/scrub-gate.ts); docs/compliance.md "Third-party scrubs".
 */
import { saveScrubSettings, scrubCallsThisMonth, scrubSettingsOf, type ScrubSettingsRow } from '../../db/scrubs';
import { circuitState, DEFAULT_BASE_URLS, SCRUB_PROVIDERS } from '../../domain/scrubs';
import { type Scrub, SCRUBS } from '../../domain/types';
import { auditBy } from '../audit';
import { checkUrlField } from '../delivery-check';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, route } from '../route';
import { invalidField } from '../validate';
import { Responses, ScrubParams, ScrubPut } from './scrubs.schemas';

const DEFAULTS = { timeoutMs: 800, failureThreshold: 5, cooldownMs: 30_000, litigatorRule: 'refuse' } as const;

/** A scrub as the API shows it: its settings (never the secret), this month's calls, its circuit. */
function scrubView(scrub: Scrub, row: ScrubSettingsRow | undefined, calls: number, now: Date) {
  return {
    scrub,
    provider: SCRUB_PROVIDERS[scrub],
    enabled: row?.enabled ?? false,
    baseUrl: row?.baseUrl ?? DEFAULT_BASE_URLS[scrub],
    username: row?.username ?? null,
    secretSet: !!row,
    monthlyBudget: row?.monthlyBudget ?? null,
    callsThisMonth: calls,
    timeoutMs: row?.timeoutMs ?? DEFAULTS.timeoutMs,
    failureThreshold: row?.failureThreshold ?? DEFAULTS.failureThreshold,
    cooldownMs: row?.cooldownMs ?? DEFAULTS.cooldownMs,
    litigatorRule: row?.litigatorRule ?? DEFAULTS.litigatorRule,
    circuit: {
      state: row ? circuitState(row, now) : ('closed' as const),
      consecutiveFailures: row?.consecutiveFailures ?? 0,
      openedAt: row?.circuitOpenedAt?.toISOString() ?? null,
    },
    updatedAt: row?.updatedAt.toISOString() ?? null,
  };
}

export const scrubRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/scrubs',
    operationId: 'listScrubs',
    tag: 'Scrubs',
    summary: "The agency's third-party scrubs: settings, calls this month, circuit state",
    responses: { 200: { description: 'every scrub', schema: Responses.ScrubList }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, services }) {
      const now = new Date();
      const [rows, calls] = await Promise.all([
        scrubSettingsOf(services.db, principal.agencyId),
        scrubCallsThisMonth(services.db, principal.agencyId, now),
      ]);
      const scrubs = SCRUBS.map((s) =>
        scrubView(
          s,
          rows.find((r) => r.scrub === s),
          calls.get(s) ?? 0,
          now,
        ),
      );
      return { status: 200, body: { scrubs } };
    },
  }),

  route({
    method: 'put',
    path: '/v1/scrubs/:scrub',
    operationId: 'putScrub',
    tag: 'Scrubs',
    summary: 'Turn a third-party scrub on or off, and set its provider, credentials, budget, timeout and circuit',
    description:
      'Creates or replaces the scrub\'s settings. The secret is write-only (sealed by the key store); omitted, the stored one is kept, so the first save needs it. The base URL passes the address guard (no private ranges unless allowed). A new base URL or new credentials close the circuit. docs/compliance.md "Third-party scrubs".',
    params: ScrubParams,
    body: ScrubPut,
    responses: { 200: { description: 'saved', schema: Responses.ScrubSaved }, ...BODY_ERRORS, ...AUTH_ERRORS },
    async handler({ principal, params, body, services }) {
      const { scrub } = params;
      if (scrub === 'line_status' && body.username !== undefined)
        throw invalidField('username', 'line_status takes a token only (`secret`)');
      if (scrub === 'line_status' && body.litigatorRule !== undefined)
        throw invalidField('litigatorRule', 'only for the litigator scrub');
      const before = (await scrubSettingsOf(services.db, principal.agencyId)).find((r) => r.scrub === scrub);
      if (scrub === 'litigator' && !(body.username ?? before?.username))
        throw invalidField(
          'username',
          'required: the API username of HTTP Basic authentication (the secret is the password)',
        );
      const baseUrl = body.baseUrl ?? before?.baseUrl ?? DEFAULT_BASE_URLS[scrub];
      if (body.baseUrl) await checkUrlField(body.baseUrl, services.webhookAllowlist, 'baseUrl');
      const saved = await saveScrubSettings(services.db, {
        agencyId: principal.agencyId,
        scrub,
        by: auditBy(principal),
        settings: {
          enabled: body.enabled,
          baseUrl,
          username: scrub === 'litigator' ? (body.username ?? before?.username ?? null) : null,
          secret: body.secret,
          monthlyBudget: body.monthlyBudget !== undefined ? body.monthlyBudget : (before?.monthlyBudget ?? null),
          timeoutMs: body.timeoutMs ?? before?.timeoutMs ?? DEFAULTS.timeoutMs,
          failureThreshold: body.failureThreshold ?? before?.failureThreshold ?? DEFAULTS.failureThreshold,
          cooldownMs: body.cooldownMs ?? before?.cooldownMs ?? DEFAULTS.cooldownMs,
          litigatorRule: body.litigatorRule ?? before?.litigatorRule ?? DEFAULTS.litigatorRule,
        },
      });
      if (saved === 'missing_secret') throw invalidField('secret', 'required the first time');
      const now = new Date();
      const calls = (await scrubCallsThisMonth(services.db, principal.agencyId, now)).get(scrub) ?? 0;
      return { status: 200, body: { scrub: scrubView(scrub, saved, calls, now) } };
    },
  }),
];
