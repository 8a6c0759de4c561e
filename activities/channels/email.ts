/** The email channel: the lead as a plain-text message over SMTP (nodemailer, `SMTP_URL`). */
import nodemailer, { type Transporter } from 'nodemailer';

import { leadSummary } from '../../domain/delivery';
import type { Channel, DeliveryContext, Sent } from './channel';
import type { DeliveryConfig } from './config';

const transports = new Map<string, Transporter>();

/** One SMTP transport per URL, shared by lead deliveries and alerts. */
export function transportFor(url: string): Transporter {
  let t = transports.get(url);
  if (!t) {
    t = nodemailer.createTransport(url, {
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    } as never);
    transports.set(url, t);
  }
  return t;
}

export function emailChannel(config: DeliveryConfig): Channel {
  return {
    name: 'email',
    // No SMTP server configured: the channel is skipped, not failed.
    configured: (buyer) => !!buyer.delivery.email && !!config.smtpUrl,
    async send({ payload, buyer }: DeliveryContext): Promise<Sent> {
      const l = payload.lead;
      const info = await transportFor(config.smtpUrl!).sendMail({
        from: config.mailFrom,
        to: buyer.delivery.email,
        subject: `New lead: ${l.firstName} ${l.lastName}, ${[l.city, l.state, l.zip].filter(Boolean).join(' ')}`,
        text: leadSummary(payload),
        headers: { 'X-Leadwire-Assignment': payload.assignmentId },
        messageId: `<${payload.assignmentId}@leadwire>`,
        attachments: [
          { filename: 'lead.json', content: JSON.stringify(payload, null, 2), contentType: 'application/json' },
        ],
      });
      return { detail: String((info as { response?: string }).response ?? 'sent').slice(0, 200) };
    },
  };
}
