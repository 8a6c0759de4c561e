/**
 * docs/payments.md's "Restricted API key" table lists exactly the Stripe calls the code makes, each under a
 * permission that covers it: the code is searched for every resource and method the official SDK itself has
 * (`stripe.<resource>.<method>(`, across line breaks), so a new call without its row – or a row for a call that
 * is gone – fails here.
 */
import fs from 'node:fs';
import path from 'node:path';

import Stripe from 'stripe';

const ROOT = path.resolve(__dirname, '../..');
/** Production code that may call Stripe (tests, the pages and the client package never do). */
const SOURCE_DIRS = ['activities', 'api', 'bin', 'claims', 'db', 'lib', 'ops', 'payments', 'worker', 'workflows'];
/** Methods a Read permission allows; any other method needs Write. */
const READS = new Set(['retrieve', 'retrieveCurrent', 'list', 'search']);

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every resource of the SDK by its path (`refunds`, `checkout.sessions`), with the object that has its methods. */
function sdkResources(): Map<string, Record<string, unknown>> {
  const sdk = new Stripe('sk_test_permissions') as unknown as Record<string, unknown>;
  const isResource = (v: unknown) =>
    typeof v === 'object' &&
    v !== null &&
    ['create', 'retrieve', 'list'].some((m) => typeof (v as never)[m] === 'function');
  const out = new Map<string, Record<string, unknown>>();
  for (const [name, value] of Object.entries(sdk)) {
    if (name.startsWith('_') || typeof value !== 'object' || value === null) continue;
    if (isResource(value)) out.set(name, value as Record<string, unknown>);
    else
      for (const [sub, inner] of Object.entries(value))
        if (sub !== 'stripe' && isResource(inner)) out.set(`${name}.${sub}`, inner as Record<string, unknown>);
  }
  return out;
}

/** `resource.method` of every SDK call in the code. */
function callsInCode(): Set<string> {
  const text = SOURCE_DIRS.flatMap((d) => sourceFiles(path.join(ROOT, d)))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
  const calls = new Set<string>();
  for (const [name, resource] of sdkResources()) {
    const dotted = name.split('.').join('\\s*\\.\\s*');
    for (const m of text.matchAll(new RegExp(`\\.\\s*${dotted}\\s*\\.\\s*(\\w+)\\s*\\(`, 'g')))
      if (typeof resource[m[1]!] === 'function') calls.add(`${name}.${m[1]}`);
  }
  return calls;
}

function permissionTable(): { resource: string; permission: string; calls: string[] }[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/payments.md'), 'utf8');
  const section = /^## Restricted API key\n([\s\S]*?)(?=^## |$(?![\s\S]))/m.exec(doc)?.[1];
  if (!section) throw new Error('docs/payments.md has no "Restricted API key" section');
  return section
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|\s*-/.test(l))
    .slice(1)
    .map((l) => {
      const [resource, permission, calls] = l
        .split('|')
        .slice(1, 4)
        .map((c) => c.trim());
      return {
        resource: resource!,
        permission: permission!,
        calls: [...calls!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!),
      };
    });
}

test('the code calls Stripe through the SDK, and the search finds those calls', () => {
  const calls = callsInCode();
  // The ones every payment flow needs, so a broken search cannot pass by finding nothing.
  expect([...calls]).toEqual(
    expect.arrayContaining([
      'checkout.sessions.create',
      'paymentIntents.create',
      'paymentIntents.list',
      'refunds.create',
    ]),
  );
});

test("docs/payments.md's restricted key table lists exactly the calls the code makes, each with the permission it needs", () => {
  const table = permissionTable();
  const listed = table.flatMap((r) => r.calls);
  expect(new Set(listed).size).toBe(listed.length);
  expect([...listed].sort()).toEqual([...callsInCode()].sort());
  for (const row of table) {
    const writes = row.calls.some((c) => !READS.has(c.split('.').at(-1)!));
    expect({ resource: row.resource, permission: row.permission }).toEqual({
      resource: row.resource,
      permission: writes ? 'Write' : 'Read',
    });
  }
});
