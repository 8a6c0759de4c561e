/**
 * The alert dispatcher (#12): drains the alert outbox (db/deliveries.ts) from the
 * worker process, every second. Each due row is claimed with
 * `FOR UPDATE SKIP LOCKED`, sent on its channel (the buyer's signed webhook
 * with event type `offer.opened` or `balance.low`, email over SMTP, SMS and
 * voice through the provider webhook), retried with exponential backoff a
 * bounded number of times, and ends `sent`, `failed` or `skipped`. Offer
 * alerts land on the offer's timeline as `notified` with channel and outcome.
 *
 * An offer alert carries the preview, the buyer's price, the time left and a
 * claim link `<LW_PUBLIC_URL>/?offer=<offerId>` that opens Live Leads on the
 * offer. An offer that closed before its alert went out is `skipped`.
 */
import type { DeliveryConfig } from '../activities/channels/config';
import { postJson } from '../activities/channels/http-post';
import { signedHeaders } from '../activities/channels/signing';
import { signingKeys } from '../activities/delivery';
import { buyerById } from '../db/buyers';
import type { Db } from '../db/connection';
import { type AlertRow, claimDueAlerts, finishAlert, retryAlertLater } from '../db/deliveries';
import { appendEvents, getOffer } from '../db/offers';
import { webhookBody, type WebhookEventType } from '../domain/webhook-events';
import { setting } from '../lib/config';
import { transportFor } from '../lib/smtp';
import { UrlRefused } from '../lib/url-guard';

export interface AlertDispatcherOptions {
  db: Db;
  delivery: DeliveryConfig;
  /** Base of claim links: LW_PUBLIC_URL, else the API's own URL. */
  publicUrl: string;
  everyMs?: number;
  /** Attempts per alert (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt, at most 5 minutes (default 2000). */
  backoffMs?: number;
  batch?: number;
}

/** The claim link of an offer: opens Live Leads on it. */
function claimLink(publicUrl: string, offerId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/?offer=${encodeURIComponent(offerId)}`;
}

/** LW_PUBLIC_URL, else the API on this host. */
export function publicUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return setting('LW_PUBLIC_URL', env) ?? `http://localhost:${setting('PORT', env)}`;
}

type Outcome = { status: 'sent' | 'skipped'; detail: string };

interface AlertMessage {
  subject: string;
  text: string;
  /** The webhook's event: its type, when it happened, and its fields (shaped by `webhookBody`). */
  json: { type: WebhookEventType; at?: string } & Record<string, unknown>;
}

function messageOf(alert: AlertRow, publicUrl: string, now: Date): AlertMessage {
  const p = alert.payload as Record<string, unknown>;
  if (alert.kind === 'low_balance') {
    const text = `Leadwire: your balance is ${String(p.balance)} credits, below your alert threshold of ${String(p.threshold)}. Ask your agency to top up your wallet to keep claiming leads.`;
    return {
      subject: 'Your Leadwire balance is low',
      text,
      json: { type: 'balance.low', balance: p.balance, threshold: p.threshold, at: now.toISOString() },
    };
  }
  if (alert.kind === 'recharge_failed') {
    const why = [p.code, p.message].filter(Boolean).map(String).join(': ');
    const text = p.paused
      ? `Leadwire: your auto-recharge failed${why ? ` (${why})` : ''}. ${String(p.pausedReason)}`
      : `Leadwire: your auto-recharge failed${why ? ` (${why})` : ''}; it will be tried again. Check your saved card on your wallet page.`;
    return {
      subject: p.paused ? 'Your Leadwire auto-recharge is paused' : 'Your Leadwire auto-recharge failed',
      text,
      json: {
        type: 'recharge.failed',
        paymentId: p.paymentId,
        code: p.code,
        message: p.message,
        failures: p.failures,
        paused: p.paused,
        pausedReason: p.pausedReason,
        at: now.toISOString(),
      },
    };
  }
  const preview = (p.preview ?? {}) as Record<string, unknown>;
  const where = ['city', 'state', 'zip']
    .map((k) => preview[k])
    .filter((v) => v !== undefined && v !== null && v !== '')
    .join(' ');
  const secondsLeft = Math.max(0, Math.round((Date.parse(String(p.closesAt)) - now.getTime()) / 1000));
  const link = claimLink(publicUrl, alert.offerId!);
  const text = `Leadwire: new lead${where ? ` in ${where}` : ''} for ${String(p.price)} credits, ${secondsLeft}s left to claim: ${link}`;
  return {
    subject: `New lead${where ? ` in ${where}` : ''}: ${String(p.price)} credits, ${secondsLeft}s left`,
    text,
    json: {
      type: 'offer.opened',
      offer: { id: alert.offerId, preview, price: p.price, closesAt: p.closesAt, secondsLeft, claimUrl: link },
    },
  };
}

async function send(alert: AlertRow, opts: AlertDispatcherOptions, now: Date): Promise<Outcome> {
  const { db, delivery: config } = opts;
  if (alert.kind === 'offer_opened') {
    const offer = await getOffer(db, alert.offerId!);
    if (!offer || offer.status !== 'open' || offer.closesAt.getTime() <= now.getTime())
      return { status: 'skipped', detail: 'offer_closed' };
  }
  const buyer = await buyerById(db, alert.buyerId);
  if (!buyer) return { status: 'skipped', detail: 'no_buyer' };
  const msg = messageOf(alert, opts.publicUrl, now);
  const d = buyer.delivery;
  switch (alert.channel) {
    case 'webhook': {
      if (!d.webhookUrl) return { status: 'skipped', detail: 'not_configured' };
      if (!buyer.webhookSecretSealed) return { status: 'skipped', detail: 'no_signing_secret' };
      const { type, at, ...data } = msg.json;
      const body = JSON.stringify(
        webhookBody(d.payloadVersion, msg.json, () => ({ type, timestamp: at ?? now.toISOString(), data })),
      );
      // Standard Webhooks, like every webhook Leadwire sends (activities/channels/signing.ts); one message id per alert.
      const res = await postJson(
        d.webhookUrl,
        body,
        {
          ...signedHeaders(signingKeys(buyer, now), `msg_alert_${alert.id}`, body, now),
          'Idempotency-Key': `alert:${alert.id}`,
          'X-Leadwire-Event': type,
        },
        { timeoutMs: config.timeoutMs, allowlist: config.allowlist },
      );
      return { status: 'sent', detail: `HTTP ${res.status}` };
    }
    case 'email': {
      if (!d.email || !config.smtpUrl) return { status: 'skipped', detail: 'not_configured' };
      const info = await transportFor(config.smtpUrl).sendMail({
        from: config.mailFrom,
        to: d.email,
        subject: msg.subject,
        text: msg.text,
        messageId: `<alert-${alert.id}@leadwire>`,
      });
      return { status: 'sent', detail: String((info as { response?: string }).response ?? 'sent').slice(0, 200) };
    }
    case 'sms':
    case 'voice': {
      const url = alert.channel === 'sms' ? config.smsProviderUrl : config.voiceProviderUrl;
      const to = alert.channel === 'sms' ? d.smsTo : d.voiceTo;
      if (!url || !to) return { status: 'skipped', detail: 'not_configured' };
      const headers: Record<string, string> = { 'Idempotency-Key': `alert:${alert.id}` };
      if (config.providerToken) headers.Authorization = `Bearer ${config.providerToken}`;
      const res = await postJson(
        url,
        JSON.stringify({ channel: alert.channel, to, message: msg.text, reference: `alert:${alert.id}` }),
        headers,
        {
          timeoutMs: config.timeoutMs,
          allowlist: config.allowlist,
        },
      );
      return { status: 'sent', detail: `HTTP ${res.status}` };
    }
    default:
      return { status: 'skipped', detail: 'unknown_channel' };
  }
}

async function record(db: Db, alert: AlertRow, outcome: 'sent' | 'failed' | 'skipped', detail: string): Promise<void> {
  await finishAlert(db, alert.id, outcome, detail);
  if (alert.kind === 'offer_opened' && alert.leadId) {
    await appendEvents(db, [
      {
        leadId: alert.leadId,
        offerId: alert.offerId,
        type: 'notified',
        buyerId: alert.buyerId,
        reason: outcome,
        data: { channel: alert.channel, outcome, attempts: alert.attempts, detail },
        dedupeKey: `notified:${alert.id}`,
      },
    ]);
  }
}

/** Sends what is due now, once; answers how many alerts it handled. */
async function dispatchDueAlerts(opts: AlertDispatcherOptions): Promise<number> {
  const maxAttempts = opts.maxAttempts ?? 5;
  const backoff = opts.backoffMs ?? 2000;
  const due = await claimDueAlerts(opts.db, opts.batch ?? 50, 60_000);
  await Promise.all(
    due.map(async (alert) => {
      try {
        const out = await send(alert, opts, new Date());
        await record(opts.db, alert, out.status, out.detail);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (err instanceof UrlRefused || alert.attempts >= maxAttempts)
          await record(opts.db, alert, 'failed', message.slice(0, 500));
        else await retryAlertLater(opts.db, alert.id, Math.min(300_000, backoff * 2 ** (alert.attempts - 1)), message);
      }
    }),
  );
  return due.length;
}

/** Runs the dispatcher every `everyMs` (default 1 s) until stopped. */
export function startAlertDispatcher(opts: AlertDispatcherOptions): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    dispatchDueAlerts(opts)
      .catch(() => undefined)
      .finally(() => (running = false));
  }, opts.everyMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
