/**
 * SMS and voice through a messaging provider reached by webhook: the provider
 * (Twilio, Vonage or an in-house gateway, behind a small adapter of its own)
 * receives `POST <provider URL>` with JSON
 *
 *   {"channel":"sms"|"voice", "to":"+15551234567", "message":"…", "reference":"<assignment id>"}
 *
 * and `Authorization: Bearer <LW_PROVIDER_TOKEN>` when one is configured, and
 * signed per Standard Webhooks with `LW_PROVIDER_WEBHOOK_SECRET` when that is
 * set; any 2xx is "accepted". The provider URL is SSRF-guarded like a buyer webhook.
 */
import type { Channel, DeliveryContext, Sent } from './channel';
import type { DeliveryConfig } from './config';
import { postJson } from './http-post';
import { messageIdOf, signedHeaders } from './signing';

function message(channel: 'sms' | 'voice', ctx: DeliveryContext): string {
  const l = ctx.payload.lead;
  const where = [l.city, l.state, l.zip].filter(Boolean).join(' ');
  return channel === 'sms'
    ? `Leadwire: new lead ${l.firstName} ${l.lastName}, ${l.phone}, ${where}. Details in your dashboard.`
    : `You have a new lead from Leadwire: ${l.firstName} ${l.lastName} in ${where}. Their number is ${l.phone.split('').join(' ')}.`;
}

export function providerChannel(channel: 'sms' | 'voice', config: DeliveryConfig): Channel {
  const url = channel === 'sms' ? config.smsProviderUrl : config.voiceProviderUrl;
  return {
    name: channel,
    configured: (buyer) => !!url && !!(channel === 'sms' ? buyer.delivery.smsTo : buyer.delivery.voiceTo),
    async send(ctx: DeliveryContext): Promise<Sent> {
      const to = channel === 'sms' ? ctx.buyer.delivery.smsTo! : ctx.buyer.delivery.voiceTo!;
      const body = JSON.stringify({ channel, to, message: message(channel, ctx), reference: ctx.payload.assignmentId });
      const messageId = messageIdOf(ctx.payload.assignmentId, channel);
      const headers: Record<string, string> = { 'Idempotency-Key': `${ctx.payload.assignmentId}:${channel}` };
      if (config.providerToken) headers.Authorization = `Bearer ${config.providerToken}`;
      if (config.providerSigningSecret)
        Object.assign(
          headers,
          signedHeaders({ current: config.providerSigningSecret, previous: null, legacy: false }, messageId, body),
        );
      const res = await postJson(url!, body, headers, { timeoutMs: config.timeoutMs, allowlist: config.allowlist });
      return { detail: `HTTP ${res.status}`, status: res.status, response: res.body, messageId };
    },
  };
}
