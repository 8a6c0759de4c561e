/**
 * (9) Feed flood (issue 27, item 2): another client's `GET /v1/me/wallet`
 *     latency while one buyer floods the live feed, against the same client
 *     idle. The flooder keeps four sockets, each sending `floodFrames` hostile
 *     frames (malformed JSON, unknown types, invalid claims, `viewed` of
 *     offers it cannot see) and reconnecting as soon as the gateway starts
 *     closing it (4429 after the frames over its limit), as a hostile client
 *     would, for as long as the flooded sample lasts; during the key's
 *     cooldown its upgrades are refused (429) and it tries again at once.
 *     Target: flooded p99 ≤ 2 × idle p99.
 */
import crypto from 'node:crypto';

import WebSocket from 'ws';

import { bearer } from '../../packages/client';
import { type Buyer, createAgency, createBuyers } from '../lib/client';
import { fmt, ratio, summarize } from '../lib/stats';
import { type BenchContext, type ScenarioResult, settle } from './context';

/** Wallet reads, one after another: their latencies (ms). */
async function walletReads(ctx: BenchContext, buyer: Buyer, n: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await ctx.api.timed(ctx.api.client.GET('/v1/me/wallet', { headers: bearer(buyer.key) }));
    if (r.status !== 200) throw new Error(`wallet read answered ${r.status}`);
    ms.push(r.ms);
  }
  return ms;
}

const FRAMES = [
  () => '{not json',
  () => JSON.stringify({ type: 'subscribe', channel: '*' }),
  () => JSON.stringify({ type: 'claim', offerId: 'not-a-uuid' }),
  () => JSON.stringify({ type: 'viewed', offerId: crypto.randomUUID() }),
];

/**
 * One flooding socket: opens, sends `frames` frames, and resolves as soon as the gateway starts closing it (a
 * hostile client does not wait for the TCP close to open the next); `closed` is told the close code.
 */
function floodOnce(wsUrl: string, buyer: Buyer, frames: number, closed: (how: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { headers: bearer(buyer.key), perMessageDeflate: false });
    ws.on('error', () => undefined);
    // The upgrade refused (429 during the key's cooldown after a flooding close): straight on to the next attempt.
    ws.once('unexpected-response', (req, res) => {
      closed(`upgrade ${res.statusCode}`);
      req.destroy();
      resolve();
    });
    ws.once('close', (code) => {
      closed(String(code));
      resolve();
    });
    ws.on('message', () => {
      if (ws.readyState !== WebSocket.OPEN) resolve();
    });
    ws.once('message', () => {
      for (let i = 0; i < frames && ws.readyState === WebSocket.OPEN; i++) ws.send(FRAMES[i % FRAMES.length]!());
      // The close frame arrives after the last answer: look again once the socket's queue is drained.
      const poll = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) return;
        clearInterval(poll);
        resolve();
      }, 10);
      ws.once('close', () => clearInterval(poll));
    });
  });
}

/** Flooding sockets at once, each reconnecting as soon as the gateway closes it. */
const FLOODERS = 4;

export async function feedFlood(ctx: BenchContext): Promise<ScenarioResult> {
  await settle(ctx);
  const { adminKey } = await createAgency(ctx.api, 'bench: feed flood');
  const [reader, flooder] = await createBuyers(ctx.api, adminKey, 2, 100);
  const n = ctx.sizes.floodReads;
  await walletReads(ctx, reader!, Math.min(20, n)); // warm up
  const idle = summarize(await walletReads(ctx, reader!, n));

  let flooding = true;
  const closes: Record<string, number> = {};
  let sockets = 0;
  const closed = (how: string) => (closes[how] = (closes[how] ?? 0) + 1);
  const flood = Promise.all(
    Array.from({ length: FLOODERS }, async () => {
      while (flooding) {
        await floodOnce(ctx.stack.wsUrl, flooder!, ctx.sizes.floodFrames, closed);
        sockets++;
      }
    }),
  );
  let flooded;
  try {
    flooded = summarize(await walletReads(ctx, reader!, n));
  } finally {
    flooding = false;
    await flood;
    // The last sockets' closes arrive within the gateway's grace (a second).
    await new Promise((r) => setTimeout(r, 1500));
  }
  const p99Ratio = ratio(flooded.p99, idle.p99);
  const figures = {
    reads: n,
    framesPerSocket: ctx.sizes.floodFrames,
    floodSockets: sockets,
    closes,
    idle,
    flooded,
    p99Ratio,
    withinTarget: p99Ratio !== null && p99Ratio <= 2,
  };
  ctx.log(
    `feed_flood: idle ${fmt(idle)}; flooded ${fmt(flooded)}; ratio ${p99Ratio}; closes ${JSON.stringify(closes)}`,
  );
  return {
    scenario: 'feed_flood',
    figures,
    headline:
      `wallet GET p99 ${flooded.p99} ms during the flood vs ${idle.p99} ms idle (×${p99Ratio}, target ≤ 2); ` +
      `p50 ${flooded.p50} vs ${idle.p50} ms; ${sockets} flooding attempts (${FLOODERS} at a time, ${ctx.sizes.floodFrames} frames a socket): ${JSON.stringify(closes)}`,
  };
}
