/** The email channel: the lead as a plain-text message over SMTP (nodemailer, `SMTP_URL`). */
import { leadSummary } from '../../domain/delivery';
import { transportFor } from '../../lib/smtp';
import type { Channel, DeliveryContext, Sent } from './channel';
import type { DeliveryConfig } from './config';

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
