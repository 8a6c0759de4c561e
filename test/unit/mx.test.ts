/**
 * The MX look-up against a local DNS server (test/helpers/dns-server.ts):
 * found, none (NXDOMAIN, null MX, no mail server at all), the implicit MX of an
 * address record, and unverified on SERVFAIL and on a timeout; answers cached,
 * failures not.
 */
import { mxChecker } from '../../lib/mx';
import { type LocalDns, startLocalDns } from '../helpers/dns-server';

let dns: LocalDns;

beforeAll(async () => {
  dns = await startLocalDns({
    'mail.test': {
      mx: [
        { exchange: 'mx2.mail.test', priority: 20 },
        { exchange: 'mx1.mail.test', priority: 10 },
      ],
    },
    'nullmx.test': { mx: [{ exchange: '', priority: 0 }] },
    'addressonly.test': { a: ['192.0.2.10'] },
    'nothing.test': {},
    'broken.test': { servfail: true },
    'slow.test': { silent: true },
  });
});

afterAll(async () => {
  await dns?.close();
});

const checker = () => mxChecker({ servers: [dns.server], timeoutMs: 200 });

test('a domain with MX records is found, best priority first', async () => {
  expect(await checker().check('mail.test')).toEqual({ result: 'found', mx: ['mx1.mail.test', 'mx2.mail.test'] });
});

test('no mail can reach a domain that does not exist, publishes a null MX, or has no mail server', async () => {
  const mx = checker();
  expect(await mx.check('missing.test')).toMatchObject({ result: 'none', detail: 'missing.test does not exist' });
  expect(await mx.check('nullmx.test')).toMatchObject({ result: 'none' });
  expect(await mx.check('nothing.test')).toMatchObject({ result: 'none', detail: 'nothing.test has no mail server' });
});

test('an address record without MX is the implicit MX (RFC 5321)', async () => {
  expect(await checker().check('addressonly.test')).toEqual({ result: 'found', mx: ['addressonly.test'] });
});

test('a DNS failure or a timeout is unverified, never none', async () => {
  const mx = checker();
  expect(await mx.check('broken.test')).toMatchObject({ result: 'unverified' });
  expect(await mx.check('slow.test')).toMatchObject({ result: 'unverified', detail: 'DNS: ETIMEOUT' });
});

test('answers are cached; failures are asked again', async () => {
  const mx = checker();
  const before = dns.asked.length;
  await mx.check('mail.test');
  await mx.check('mail.test');
  expect(dns.asked.slice(before)).toEqual(['MX mail.test']);
  const again = dns.asked.length;
  await mx.check('broken.test');
  await mx.check('broken.test');
  expect(dns.asked.slice(again)).toEqual(['MX broken.test', 'MX broken.test']);
});
