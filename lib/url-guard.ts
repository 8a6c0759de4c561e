/**
 * SSRF guard for outbound deliveries (webhooks and messaging providers).
 *
 * A URL is checked twice: when it is configured (the API answers 400 for a
 * URL whose host is, or resolves to, a private, loopback or link-local
 * address) and when a delivery connects. The second check is the real guard:
 * it runs inside the connection's own DNS lookup, so the address checked is
 * the address connected to (DNS cannot change in between), and redirects are
 * never followed. `LW_WEBHOOK_ALLOWLIST` (host names, IPs, CIDRs) opens
 * specific internal targets.
 *
 * Here, outside activities/, because the API checks URLs when they are set
 * and the worker when it connects: both import it, neither from the other.
 */
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';

import { addressRefusal, parseAllowList, parseIp } from '../domain/net';
import { setting } from './config';

export class UrlRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UrlRefused';
  }
}

/** The allow-list in force: the given one, else LW_WEBHOOK_ALLOWLIST. */
function allowListOf(raw?: string | null) {
  return parseAllowList(raw ?? setting('LW_WEBHOOK_ALLOWLIST') ?? '');
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * Configuration-time check. Refuses (UrlRefused) a non-http(s) URL, and a host
 * that is or resolves to a blocked address. A host that does not resolve now
 * is accepted: the delivery-time check resolves it again and refuses it then.
 */
export async function checkDeliveryUrl(raw: string, allowlist?: string | null): Promise<void> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefused('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UrlRefused('only http and https URLs are allowed');
  if (url.username || url.password) throw new UrlRefused('credentials in the URL are not allowed');
  const list = allowListOf(allowlist);
  const host = hostOf(url);
  let addresses: string[];
  if (parseIp(host)) addresses = [host];
  else {
    try {
      addresses = (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      return;
    }
  }
  for (const ip of addresses) {
    const refusal = addressRefusal(list, host, ip);
    if (refusal) throw new UrlRefused(refusal);
  }
}

/**
 * A `lookup` for http.request that resolves every address of the host and
 * refuses the connection when any of them is blocked (a host with one public
 * and one private address is refused, since either could be used).
 */
export function guardedLookup(allowlist?: string | null): LookupFunction {
  const list = allowListOf(allowlist);
  return ((
    hostname: string,
    options: dns.LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
  ) => {
    dns.lookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list2 = addresses as dns.LookupAddress[];
      for (const a of list2) {
        const refusal = addressRefusal(list, hostname, a.address);
        if (refusal) return callback(new UrlRefused(refusal), '', 4);
      }
      if (options.all) return callback(null, list2);
      const first = list2[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4);
      callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}

/** An IP-literal host never goes through `lookup`: check it directly. */
export function checkLiteralHost(url: URL, allowlist?: string | null): void {
  const host = hostOf(url);
  if (!parseIp(host)) return;
  const refusal = addressRefusal(allowListOf(allowlist), host, host);
  if (refusal) throw new UrlRefused(refusal);
}
