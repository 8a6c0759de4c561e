/**
 * SSRF rules for outbound deliveries, as pure functions: which IP addresses a
 * webhook (or provider) URL may reach, and what the operator's allow-list
 * (`LW_WEBHOOK_ALLOWLIST`: host names, IPs and CIDRs, comma-separated) opens.
 * The resolving itself is I/O and lives in activities/channels/url-guard.ts.
 */

type Bytes = number[];

function parseIPv4(s: string): Bytes | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

function parseIPv6(input: string): Bytes | null {
  let s = input.toLowerCase();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!/^[0-9a-f:.]+$/.test(s)) return null;
  // A trailing dotted IPv4 (::ffff:127.0.0.1) becomes two hex groups.
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return null;
    s = `${s.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const out: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    const n = parseInt(g, 16);
    out.push(n >> 8, n & 0xff);
  }
  return out;
}

/** The address as bytes (4 or 16), or null when it is not an IP literal. */
export function parseIp(s: string): Bytes | null {
  return parseIPv4(s) ?? parseIPv6(s);
}

function inPrefix(addr: Bytes, net: Bytes, bits: number): boolean {
  if (addr.length !== net.length) return false;
  for (let i = 0; i < addr.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i] & mask) !== (net[i] & mask)) return false;
  }
  return true;
}

const cidr = (s: string): [Bytes, number] => {
  const [ip, bits] = s.split('/');
  return [parseIp(ip)!, Number(bits)];
};

/** Not the public internet: private, loopback, link-local, shared, multicast, reserved, documentation. */
const BLOCKED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map(cidr);

const BLOCKED_V6 = [
  '::/128', // unspecified
  '::1/128', // loopback
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'fec0::/10', // site-local (deprecated)
  'ff00::/8', // multicast
  '2001:db8::/32', // documentation
  '100::/64', // discard
].map(cidr);

/** An IPv4 address hidden inside an IPv6 one: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16). */
function embeddedV4(addr: Bytes): Bytes | null {
  if (addr.length !== 16) return null;
  const zeros = (from: number, to: number) => addr.slice(from, to).every((b) => b === 0);
  if (zeros(0, 10) && addr[10] === 0xff && addr[11] === 0xff) return addr.slice(12);
  if (zeros(0, 12) && !(addr[12] === 0 && addr[13] === 0 && addr[14] === 0 && addr[15] <= 1)) return addr.slice(12);
  if (inPrefix(addr, parseIp('64:ff9b::')!, 96)) return addr.slice(12);
  if (addr[0] === 0x20 && addr[1] === 0x02) return addr.slice(2, 6);
  return null;
}

/** True when the address must not be reached from the delivery worker (unparsable counts as blocked). */
export function isBlockedAddress(ip: string): boolean {
  const addr = parseIp(ip);
  if (!addr) return true;
  if (addr.length === 4) return BLOCKED_V4.some(([net, bits]) => inPrefix(addr, net, bits));
  const v4 = embeddedV4(addr);
  if (v4) return BLOCKED_V4.some(([net, bits]) => inPrefix(v4, net, bits));
  return BLOCKED_V6.some(([net, bits]) => inPrefix(addr, net, bits));
}

export interface AllowList {
  hosts: Set<string>;
  nets: [Bytes, number][];
}

/** Parses `LW_WEBHOOK_ALLOWLIST`: "127.0.0.1, hooks.internal, 10.1.0.0/16, ::1". Unusable entries are ignored. */
export function parseAllowList(raw: string | undefined | null): AllowList {
  const list: AllowList = { hosts: new Set(), nets: [] };
  for (const entry of (raw ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean)) {
    const [ip, bits] = entry.split('/');
    const addr = parseIp(ip);
    if (addr) {
      const max = addr.length * 8;
      const n = bits === undefined ? max : Number(bits);
      if (Number.isInteger(n) && n >= 0 && n <= max) list.nets.push([addr, n]);
    } else if (bits === undefined) {
      list.hosts.add(entry.replace(/\.$/, ''));
    }
  }
  return list;
}

export function allowListed(list: AllowList, host: string, ip?: string): boolean {
  const h = host
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  if (list.hosts.has(h)) return true;
  for (const candidate of [ip, h]) {
    const addr = candidate ? parseIp(candidate) : null;
    if (!addr) continue;
    const v4 = embeddedV4(addr);
    if (list.nets.some(([net, bits]) => inPrefix(addr, net, bits) || (v4 !== null && inPrefix(v4, net, bits))))
      return true;
  }
  return false;
}

/** Why an address may not be reached, or null when it may (public, or allow-listed). */
export function addressRefusal(list: AllowList, host: string, ip: string): string | null {
  if (!isBlockedAddress(ip)) return null;
  if (allowListed(list, host, ip)) return null;
  return `${host} resolves to ${ip}, a private, loopback or link-local address (allow it with LW_WEBHOOK_ALLOWLIST)`;
}
