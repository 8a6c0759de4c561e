// A buyer's endpoint for Leadwire's outbound ping-post (docs/buyer-endpoints.md), in plain Node:
//   POST /ping  {"zip_code":"78701","state":"TX","roof_age":15}  →  {"status":"accepted","bid":42,"ping_id":"…"}
//                                                                 or {"status":"rejected","reason":"…"}
//   POST /post  the full lead with the ping_id                   →  {"status":"accepted"} or {"status":"rejected",…}
//   GET /status?idempotency_key=…  the status query: the post's answer  →  {"status":"accepted"} or {"status":"rejected",…}
// With ENDPOINT_SECRET (whsec_…) set, every call must carry a valid Standard Webhooks signature.
// Run: PORT=8787 ENDPOINT_SECRET=whsec_… node docs/examples/buyer-endpoint-server.mjs
import crypto from 'node:crypto';
import http from 'node:http';

import { Webhook } from 'standardwebhooks';

const secret = process.env.ENDPOINT_SECRET;
const verifier = secret ? new Webhook(secret) : null;
/** The pings we bid on, by ping id, so a post can be matched to its ping. */
const pings = new Map();
/** Posts already taken, by Idempotency-Key: a resend gets the same answer and is not bought twice. */
const taken = new Map();

function answer(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (verifier) {
      try {
        verifier.verify(body, req.headers); // the signature, and a timestamp within 5 minutes
      } catch {
        return answer(res, 401, { status: 'rejected', reason: 'bad signature' });
      }
    }
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/status') {
      // The status query: what became of the post sent with this key. A key never received is refused for good –
      // a late copy of that post gets the same refusal – so the answer is never "taken" after Leadwire was told no.
      const key = url.searchParams.get('idempotency_key');
      if (!key) return answer(res, 400, { status: 'rejected', reason: 'no idempotency_key' });
      if (!taken.has(key)) taken.set(key, { status: 'rejected', reason: 'never received' });
      return answer(res, 200, taken.get(key));
    }
    let lead;
    try {
      lead = JSON.parse(body);
    } catch {
      return answer(res, 400, { status: 'rejected', reason: 'not JSON' });
    }
    if (req.url === '/ping') {
      if (!/^787/.test(String(lead.zip_code)))
        return answer(res, 200, { status: 'rejected', reason: 'outside our area' });
      const pingId = crypto.randomUUID();
      const bid = 30 + Math.min(20, Number(lead.roof_age) || 0);
      pings.set(pingId, bid);
      return answer(res, 200, { status: 'accepted', bid, ping_id: pingId });
    }
    if (req.url === '/post') {
      const key = req.headers['idempotency-key'];
      if (key && taken.has(key)) return answer(res, 200, taken.get(key));
      const result = pings.has(lead.ping_id)
        ? { status: 'accepted' }
        : { status: 'rejected', reason: 'unknown ping_id' };
      if (key) taken.set(key, result);
      return answer(res, 200, result);
    }
    answer(res, 404, { status: 'rejected', reason: 'no such path' });
  });
});

server.listen(Number(process.env.PORT ?? 8787), '127.0.0.1', () => {
  console.log(`buyer endpoint listening on http://127.0.0.1:${server.address().port}`);
});
