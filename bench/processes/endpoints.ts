/**
 * The ping tree scenario's buyer endpoints (bench/scenarios/ping-tree.ts, #22):
 * N buyers' own systems as local HTTP servers in ONE process of their own, so
 * the CPU they take from the machine's cores is measured apart (as
 * `endpoints`) from the load generator's and the stack's.
 *
 * Every server speaks the test fleet's protocol (test/helpers/endpoint-fleet.ts
 * FLEET_SETTINGS: `{"status":"accepted","bid":N,"ping_id":"…"}` or
 * `{"status":"rejected","reason":"…"}`) and answers each call after a random
 * delay between LW_BENCH_ENDPOINT_MIN_MS and _MAX_MS (a PRNG stream per server, ops/nemesis/rng.ts, seeded:
 * the same run of delays for the same seed). Whether a tier takes a lead is
 * decided by the lead's sequence number (the ping's `seq`, from the lead's
 * answers), so a known share of the leads falls through to the next tiers:
 * `fallThrough(seq)` tiers refuse it (a reject, or a bid under their floor).
 * Posts are always accepted.
 *
 * Each server notes when it received every call (wall clock, sub-millisecond,
 * the same host clock as the load generator's) and how long it held it;
 * `GET /events` on the control port answers the notes since the last read.
 *
 * Env: LW_BENCH_ENDPOINT_PLAN – JSON [{tier, floor}] per server; LW_BENCH_ENDPOINT_SEED,
 * LW_BENCH_ENDPOINT_MIN_MS, LW_BENCH_ENDPOINT_MAX_MS. Prints `READY {"control":port,"ports":[…]}`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { Rng } from '../../ops/nemesis/rng';
import { type EndpointEvent, type EndpointPlan, fallThrough } from '../lib/endpoints';

const plan = JSON.parse(process.env.LW_BENCH_ENDPOINT_PLAN ?? '[]') as EndpointPlan[];
const seed = Number(process.env.LW_BENCH_ENDPOINT_SEED ?? 1);
const minMs = Number(process.env.LW_BENCH_ENDPOINT_MIN_MS ?? 20);
const maxMs = Number(process.env.LW_BENCH_ENDPOINT_MAX_MS ?? 200);
const tiers = Math.max(...plan.map((p) => p.tier)) + 1;

const now = () => performance.timeOrigin + performance.now();
let events: EndpointEvent[] = [];

function serve(index: number, me: EndpointPlan): http.Server {
  const rng = new Rng(seed, 'endpoints').fork(`server-${index}`);
  const random = () => rng.next();
  let calls = 0;
  return http.createServer((req, res) => {
    const at = now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const delayMs = minMs + random() * (maxMs - minMs);
      const n = ++calls;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        /* answered below like any other call */
      }
      let answer: Record<string, unknown>;
      if (req.url === '/ping') {
        const seq = Number(body.seq);
        const takes = me.tier >= fallThrough(seq, tiers);
        const roll = random();
        if (roll < 0.3) answer = { status: 'rejected', reason: 'not this one' };
        else if (takes) answer = { status: 'accepted', bid: me.floor + Math.floor(random() * 20), ping_id: `p-${n}` };
        else
          answer = { status: 'accepted', bid: Math.max(1, me.floor - 1 - Math.floor(random() * 5)), ping_id: `p-${n}` };
        events.push({ server: index, tier: me.tier, step: 'ping', seq, leadId: null, at, delayMs });
      } else {
        answer = { status: 'accepted' };
        const leadId = typeof body.lead_id === 'string' ? body.lead_id : null;
        events.push({ server: index, tier: me.tier, step: 'post', seq: null, leadId, at, delayMs });
      }
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(answer));
      }, delayMs);
    });
  });
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function main() {
  const ports: number[] = [];
  for (const [i, p] of plan.entries()) ports.push(await listen(serve(i, p)));
  const control = http.createServer((req, res) => {
    if (req.url !== '/events') {
      res.writeHead(404).end();
      return;
    }
    const out = events;
    events = [];
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(out));
  });
  const port = await listen(control);
  console.log(`READY ${JSON.stringify({ control: port, ports })}`);
}

process.on('SIGTERM', () => process.exit(0));
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
