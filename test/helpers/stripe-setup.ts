/**
 * Saved cards in tests (#21): stripe-mock is stateless and its SetupIntents carry no payment method, so a small
 * server in front of it answers `GET /v1/setup_intents/:id` for the SetupIntents a test made (with their payment
 * method, typed against the SDK) and sends everything else on to stripe-mock (whose payment methods are a visa
 * ending 4242, 8/2030). `setupSession` is the completed setup-mode Checkout Session Stripe reports for it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type Stripe from 'stripe';

import { type LocalServer, newId } from './stripe';

type SetupIntentObject = Pick<Stripe.SetupIntent, 'id' | 'object' | 'status' | 'usage' | 'livemode' | 'metadata'> & {
  payment_method: string | null;
  customer: string | null;
};

export interface SetupIntentServer extends LocalServer {
  /** SetupIntents this server knows: id → payment method id. */
  setupIntents: Map<string, string>;
}

export async function startSetupIntentServer(target: string): Promise<SetupIntentServer> {
  const setupIntents = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const m = /^\/v1\/setup_intents\/([^/?]+)/.exec(req.url ?? '');
    if (req.method === 'GET' && m && setupIntents.has(m[1]!)) {
      const si: SetupIntentObject = {
        id: m[1]!,
        object: 'setup_intent',
        status: 'succeeded',
        usage: 'off_session',
        livemode: false,
        metadata: {},
        payment_method: setupIntents.get(m[1]!)!,
        customer: null,
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(si));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out = http.request(
        new URL(req.url ?? '/', target),
        { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.once('error', (err) => res.writeHead(502).end(String(err)));
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setupIntents,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A completed setup-mode Checkout Session for the buyer's customer whose SetupIntent (known to `server`) saved `pm`. */
export function setupSession(
  server: SetupIntentServer,
  buyer: { buyerId: string; agencyId: string },
  customer: string,
  pm = newId('pm'),
) {
  const setupIntent = newId('seti');
  server.setupIntents.set(setupIntent, pm);
  const session: Pick<Stripe.Checkout.Session, 'id' | 'object' | 'mode' | 'status' | 'livemode' | 'metadata'> & {
    customer: string;
    setup_intent: string;
    client_reference_id: string;
  } = {
    id: newId('cs_test'),
    object: 'checkout.session',
    mode: 'setup',
    status: 'complete',
    livemode: false,
    customer,
    setup_intent: setupIntent,
    client_reference_id: buyer.buyerId,
    metadata: { leadwireBuyerId: buyer.buyerId, leadwireAgencyId: buyer.agencyId },
  };
  return session;
}
