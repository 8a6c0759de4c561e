/**
 * The MX look-up of the email check (#23 item 2): does the domain of an
 * address have a mail server? Through DNS (node:dns's Resolver, the servers of
 * LW_DNS_SERVERS or the system's), one try with a short timeout, and a small
 * cache of answers, so a burst of leads from one domain asks once.
 *
 * `found`: MX records (or, as RFC 5321 §5.1 says, no MX but an address record,
 * the implicit MX); `none`: the domain does not exist, or publishes the null MX
 * of RFC 7505, or has neither MX nor address: no mail can reach it;
 * `unverified`: DNS failed or did not answer in time. Intake refuses `none` and
 * lets `unverified` in – a DNS outage never blocks intake.
 */
import { promises as dns } from 'node:dns';

import { setting } from './config';

type MxVerdict =
  { result: 'found'; mx: string[] } | { result: 'none'; detail: string } | { result: 'unverified'; detail: string };

export interface MxChecker {
  check(domain: string): Promise<MxVerdict>;
}

export interface MxOptions {
  /** Resolver addresses (`ip`, `ip:port`, `[v6]:port`); empty: the system's. */
  servers?: string[];
  timeoutMs: number;
  /** How long an answer (found or none) is kept; `unverified` is never kept. Default 10 minutes. */
  ttlMs?: number;
  /** Domains remembered at most; the oldest goes first. Default 10 000. */
  maxEntries?: number;
}

const NO_SUCH = new Set(['ENOTFOUND', 'ENODATA']);

export function mxChecker(options: MxOptions): MxChecker {
  const ttlMs = options.ttlMs ?? 600_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const resolver = new dns.Resolver({ timeout: options.timeoutMs, tries: 1 });
  if (options.servers?.length) resolver.setServers(options.servers);
  const cache = new Map<string, { verdict: MxVerdict; until: number }>();

  const remember = (domain: string, verdict: MxVerdict) => {
    if (verdict.result === 'unverified') return verdict;
    cache.delete(domain);
    cache.set(domain, { verdict, until: Date.now() + ttlMs });
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
    return verdict;
  };

  const hasAddress = async (domain: string): Promise<boolean | null> => {
    try {
      return (await resolver.resolve4(domain)).length > 0;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      return NO_SUCH.has(code) ? false : null;
    }
  };

  const lookUp = async (domain: string): Promise<MxVerdict> => {
    try {
      const records = await resolver.resolveMx(domain);
      const hosts = records
        .sort((a, b) => a.priority - b.priority)
        .map((r) => r.exchange)
        .filter((h) => h !== '' && h !== '.');
      if (hosts.length) return { result: 'found', mx: hosts.slice(0, 5) };
      if (records.length) return { result: 'none', detail: `${domain} accepts no mail (null MX)` };
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      if (code === 'ENOTFOUND') return { result: 'none', detail: `${domain} does not exist` };
      if (code !== 'ENODATA') return { result: 'unverified', detail: `DNS: ${code}` };
    }
    // No MX: an address record is the implicit MX (RFC 5321 §5.1).
    const address = await hasAddress(domain);
    if (address === null) return { result: 'unverified', detail: 'DNS: no answer for the address record' };
    return address ? { result: 'found', mx: [domain] } : { result: 'none', detail: `${domain} has no mail server` };
  };

  return {
    async check(domain) {
      const hit = cache.get(domain);
      if (hit && hit.until > Date.now()) return hit.verdict;
      return remember(domain, await lookUp(domain));
    },
  };
}

/** The checker LW_EMAIL_MX_CHECK asks for (null: off), on LW_DNS_SERVERS with LW_DNS_TIMEOUT_MS. */
export function mxFromSettings(env: NodeJS.ProcessEnv = process.env): MxChecker | null {
  if (!setting('LW_EMAIL_MX_CHECK', env)) return null;
  const servers = setting('LW_DNS_SERVERS', env);
  return mxChecker({ servers: servers ? servers.split(',') : [], timeoutMs: setting('LW_DNS_TIMEOUT_MS', env) });
}
