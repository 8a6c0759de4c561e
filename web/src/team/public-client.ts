/**
 * The client of the public pages that sign a person in (first-run setup,
 * accepting an invitation): same origin, no key, and `credentials:
 * 'same-origin'` so the answer's HttpOnly session cookie is kept by the
 * browser (the page itself never sees or stores it).
 */
import { createLeadwireClient } from '../../../packages/client';

export const publicClient = createLeadwireClient({
  baseUrl: '',
  headers: { Accept: 'application/json' },
  cache: 'no-store',
  credentials: 'same-origin',
});

/** The `token` of the page's own link (`?token=…`). */
export const linkToken = (): string => new URLSearchParams(location.search).get('token') ?? '';
