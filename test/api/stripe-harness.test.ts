/**
 * The Stripe parts the payments tests stand on (test/helpers/stripe.ts), each checked with the official SDK:
 * stripe-mock behind the recording proxy, the error server's documented card errors and idempotent replays,
 * and webhook deliveries signed by the SDK's test helper that the SDK's own verifier accepts – and refuses
 * once tampered with, signed with another secret, or too old.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import Stripe from 'stripe';

import {
  charge,
  checkoutSession,
  deliver,
  dispute,
  type LocalServer,
  newId,
  paymentIntent,
  type RecordingProxy,
  refund,
  signedDelivery,
  startRecordingProxy,
  startStripeErrorServer,
  startStripeMock,
  STRIPE_MOCK_KEY,
  stripeClientFor,
  stripeEvent,
} from '../helpers/stripe';

const WEBHOOK_SECRET = 'whsec_test_leadwire_harness';

let mock: LocalServer;
let proxy: RecordingProxy;
beforeAll(async () => {
  mock = await startStripeMock();
  proxy = await startRecordingProxy(mock.url);
});
afterAll(async () => {
  await proxy?.stop();
  await mock?.stop();
});

describe('stripe-mock behind the recording proxy', () => {
  test('the SDK creates a PaymentIntent and a Checkout Session; the proxy records each request and counts idempotency keys', async () => {
    const stripe = stripeClientFor(proxy.url, STRIPE_MOCK_KEY);
    const key = `recharge-${newId('test')}`;
    const pi = await stripe.paymentIntents.create(
      { amount: 2500, currency: 'usd', metadata: { buyer_id: 'b-1' } },
      { idempotencyKey: key },
    );
    expect(pi).toMatchObject({ object: 'payment_intent', amount: 2500, currency: 'usd' });
    expect(pi.id).toMatch(/^pi_/);

    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      success_url: 'http://127.0.0.1/wallet?topup=done',
      client_reference_id: 'b-1',
      line_items: [
        { quantity: 25, price_data: { currency: 'usd', unit_amount: 100, product_data: { name: 'Credit' } } },
      ],
    });
    expect(session).toMatchObject({ object: 'checkout.session', mode: 'payment', client_reference_id: 'b-1' });

    expect(proxy.countByIdempotencyKey(key)).toBe(1);
    expect(proxy.countByIdempotencyKey('never-sent')).toBe(0);
    const created = proxy.requests.filter((r) => r.path === '/v1/payment_intents');
    expect(created).toEqual([
      {
        method: 'POST',
        path: '/v1/payment_intents',
        idempotencyKey: key,
        form: { amount: '2500', currency: 'usd', 'metadata[buyer_id]': 'b-1' },
        status: 200,
        answeredId: expect.stringMatching(/^pi_/),
      },
    ]);
    const checkout = proxy.requests.find((r) => r.path === '/v1/checkout/sessions');
    expect(checkout).toMatchObject({
      method: 'POST',
      status: 200,
      form: expect.objectContaining({
        mode: 'payment',
        client_reference_id: 'b-1',
        'line_items[0][quantity]': '25',
        'line_items[0][price_data][unit_amount]': '100',
      }),
    });
  });

  test("the proxy passes stripe-mock's own errors through unchanged", async () => {
    const stripe = stripeClientFor(proxy.url, STRIPE_MOCK_KEY);
    // Missing the required `currency`: stripe-mock validates requests against Stripe's OpenAPI document.
    const err = await stripe.paymentIntents.create({ amount: 100 } as Stripe.PaymentIntentCreateParams).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(proxy.requests.at(-1)).toMatchObject({ path: '/v1/payment_intents', status: 400 });
  });
});

describe('the error server', () => {
  test("a scripted decline is Stripe's card_declined: HTTP 402, a StripeCardError with the intent in requires_payment_method", async () => {
    const server = await startStripeErrorServer();
    try {
      server.script('declined');
      const stripe = stripeClientFor(server.url, STRIPE_MOCK_KEY);
      const err = await stripe.paymentIntents
        .create(
          {
            amount: 5000,
            currency: 'usd',
            customer: 'cus_1',
            payment_method: 'pm_1',
            off_session: true,
            confirm: true,
            metadata: { buyer_id: 'b-2' },
          },
          { idempotencyKey: 'recharge-b-2-1' },
        )
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
      const card = err as Stripe.errors.StripeCardError;
      expect(card).toMatchObject({ type: 'StripeCardError', statusCode: 402, code: 'card_declined' });
      expect(card.decline_code).toBe('insufficient_funds');
      expect(card.payment_intent).toMatchObject({
        object: 'payment_intent',
        status: 'requires_payment_method',
        amount: 5000,
        amount_received: 0,
        metadata: { buyer_id: 'b-2' },
        customer: 'cus_1',
        last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' },
      });
      expect(server.pending()).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  test('authentication_required, then a retry with the same idempotency key replays it, then a new key succeeds', async () => {
    const server = await startStripeErrorServer();
    try {
      server.script('authentication_required', 'ok');
      const stripe = stripeClientFor(server.url, STRIPE_MOCK_KEY);
      const params: Stripe.PaymentIntentCreateParams = {
        amount: 3000,
        currency: 'usd',
        customer: 'cus_2',
        payment_method: 'pm_2',
        off_session: true,
        confirm: true,
        metadata: { buyer_id: 'b-3' },
      };
      const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'attempt-1' }).then(
        () => null,
        (e: unknown) => e as Stripe.errors.StripeCardError,
      );
      expect(first).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(first).toMatchObject({ statusCode: 402, code: 'authentication_required' });
      expect(first!.payment_intent?.status).toBe('requires_payment_method');

      // A client retry of the same request: Stripe answers it again from its idempotency cache.
      const replay = await stripe.paymentIntents.create(params, { idempotencyKey: 'attempt-1' }).then(
        () => null,
        (e: unknown) => e as Stripe.errors.StripeCardError,
      );
      expect(replay).toMatchObject({ code: 'authentication_required' });
      expect(replay!.payment_intent?.id).toBe(first!.payment_intent?.id);
      expect(replay!.headers?.['idempotent-replayed']).toBe('true');
      expect(server.pending()).toEqual(['ok']);

      const ok = await stripe.paymentIntents.create(params, { idempotencyKey: 'attempt-2' });
      expect(ok).toMatchObject({
        object: 'payment_intent',
        status: 'succeeded',
        amount: 3000,
        amount_received: 3000,
        currency: 'usd',
        customer: 'cus_2',
        payment_method: 'pm_2',
        metadata: { buyer_id: 'b-3' },
      });
      expect(await stripe.paymentIntents.retrieve(ok.id)).toEqual(ok);
      expect(server.paymentIntents.size).toBe(2);
      expect(server.requests.filter((r) => r.idempotencyKey === 'attempt-1')).toHaveLength(2);
    } finally {
      await server.stop();
    }
  });

  test("with requires_action configured, authentication_required leaves the intent in requires_action; 'forward' reaches stripe-mock", async () => {
    const server = await startStripeErrorServer({ forwardTo: mock.url, authenticationStatus: 'requires_action' });
    try {
      server.script('authentication_required', 'forward');
      const stripe = stripeClientFor(server.url, STRIPE_MOCK_KEY);
      const err = await stripe.paymentIntents
        .create({ amount: 700, currency: 'eur', confirm: true, off_session: true, payment_method: 'pm_3' })
        .then(
          () => null,
          (e: unknown) => e as Stripe.errors.StripeCardError,
        );
      expect(err).toMatchObject({ type: 'StripeCardError', code: 'authentication_required' });
      expect(err!.payment_intent).toMatchObject({ status: 'requires_action', currency: 'eur' });

      const forwarded = await stripe.paymentIntents.create({ amount: 800, currency: 'usd' });
      expect(forwarded).toMatchObject({ object: 'payment_intent', amount: 800 });
      expect(server.paymentIntents.has(forwarded.id)).toBe(false); // stripe-mock's, not ours
      // Other routes go to stripe-mock too.
      const account = await stripe.accounts.retrieve('acct_1');
      expect(account.object).toBe('account');
    } finally {
      await server.stop();
    }
  });

  test("without a forward target, other routes get Stripe's resource_missing", async () => {
    const server = await startStripeErrorServer();
    try {
      const stripe = stripeClientFor(server.url, STRIPE_MOCK_KEY);
      const err = await stripe.refunds.create({ payment_intent: 'pi_1' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(err).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    } finally {
      await server.stop();
    }
  });
});

describe('signed deliveries', () => {
  const stripe = new Stripe(STRIPE_MOCK_KEY);

  test("a delivery signed with the SDK's test helper is what the SDK's verifier accepts", () => {
    const pi = paymentIntent({ amount: 2500, metadata: { buyer_id: 'b-4' }, brand: 'mastercard', last4: '4444' });
    const session = checkoutSession({ amountTotal: 2500, clientReferenceId: 'b-4', paymentIntent: pi.id });
    const event = stripeEvent('checkout.session.completed', session, { account: 'acct_agency1' });
    const delivery = signedDelivery(event, WEBHOOK_SECRET);

    const verified = stripe.webhooks.constructEvent(
      delivery.body,
      delivery.headers['stripe-signature'],
      WEBHOOK_SECRET,
    );
    expect(verified).toEqual(event);
    expect(verified).toMatchObject({
      object: 'event',
      type: 'checkout.session.completed',
      api_version: Stripe.API_VERSION,
      livemode: false,
      account: 'acct_agency1',
    });
    expect(verified.id).toMatch(/^evt_/);
    expect(verified.data.object).toMatchObject({
      object: 'checkout.session',
      mode: 'payment',
      payment_status: 'paid',
      status: 'complete',
      amount_total: 2500,
      client_reference_id: 'b-4',
      payment_intent: pi.id,
    });
    expect(pi.latest_charge).toMatchObject({
      object: 'charge',
      payment_intent: pi.id,
      amount: 2500,
      paid: true,
      payment_method_details: { type: 'card', card: { brand: 'mastercard', last4: '4444' } },
      receipt_url: expect.stringMatching(/^https:\/\/pay\.stripe\.com\/receipts\//),
    });
  });

  test('a tampered body, another secret or a stale timestamp is refused with a signature error', () => {
    const event = stripeEvent('payment_intent.succeeded', paymentIntent({ amount: 1000 }));
    const good = signedDelivery(event, WEBHOOK_SECRET);
    const header = good.headers['stripe-signature'];
    const refused = (body: string, sig: string) => {
      try {
        stripe.webhooks.constructEvent(body, sig, WEBHOOK_SECRET);
        return null;
      } catch (err) {
        return err;
      }
    };
    expect(refused(good.body, header)).toBeNull();
    expect(refused(good.body.replace('"amount": 1000', '"amount": 100000'), header)).toBeInstanceOf(
      Stripe.errors.StripeSignatureVerificationError,
    );
    const otherSecret = signedDelivery(event, 'whsec_someone_else');
    expect(refused(otherSecret.body, otherSecret.headers['stripe-signature'])).toBeInstanceOf(
      Stripe.errors.StripeSignatureVerificationError,
    );
    const stale = signedDelivery(event, WEBHOOK_SECRET, {
      timestamp: Math.floor(Date.now() / 1000) - 2 * stripe.webhooks.DEFAULT_TOLERANCE,
    });
    expect(refused(stale.body, stale.headers['stripe-signature'])).toBeInstanceOf(
      Stripe.errors.StripeSignatureVerificationError,
    );
  });

  test('deliver() posts the exact bytes and headers to a webhook URL; refunds, charges and disputes arrive intact', async () => {
    const received: Stripe.Event[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          received.push(
            stripe.webhooks.constructEvent(
              Buffer.concat(chunks),
              req.headers['stripe-signature'] ?? '',
              WEBHOOK_SECRET,
            ),
          );
          res.writeHead(200).end();
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/stripe`;
    try {
      const ch = charge({ amount: 4000, amountRefunded: 1000, paymentIntent: 'pi_x', last4: '0005', brand: 'amex' });
      const re = refund({ amount: 1000, charge: ch.id, paymentIntent: 'pi_x' });
      const dp = dispute({ amount: 4000, charge: ch.id, paymentIntent: 'pi_x' });
      const events = [
        stripeEvent('charge.refunded', ch),
        stripeEvent('refund.created', re),
        stripeEvent('charge.dispute.created', dp),
      ];
      for (const e of events) expect((await deliver(url, signedDelivery(e, WEBHOOK_SECRET))).status).toBe(200);
      const forged = signedDelivery(events[0], 'whsec_forger');
      expect((await deliver(url, forged)).status).toBe(400);

      expect(received.map((e) => e.type)).toEqual(['charge.refunded', 'refund.created', 'charge.dispute.created']);
      expect(received[0].data.object).toMatchObject({ object: 'charge', amount_refunded: 1000, refunded: false });
      expect(received[1].data.object).toMatchObject({
        object: 'refund',
        amount: 1000,
        charge: ch.id,
        status: 'succeeded',
      });
      expect(received[2].data.object).toMatchObject({
        object: 'dispute',
        amount: 4000,
        charge: ch.id,
        status: 'needs_response',
        reason: 'fraudulent',
      });
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
