/**
 * The emails people get from their accounts (#20): a first-run setup link,
 * an invitation, a sign-in link, a password reset. They go through the same
 * SMTP transport as lead emails (`SMTP_URL`, activities/channels/email.ts);
 * without one, the API logs that the message could not be sent and the flows
 * that need it answer as usual (nothing tells a caller whether an address
 * exists).
 */
import { transportFor } from '../lib/smtp';

export interface AccountMail {
  to: string;
  subject: string;
  text: string;
}

export interface AccountMailer {
  /** Whether messages can leave at all (an SMTP server is configured). */
  readonly configured: boolean;
  send(mail: AccountMail): Promise<void>;
}

export function smtpAccountMailer(smtpUrl: string | null, from: string): AccountMailer {
  return {
    configured: !!smtpUrl,
    async send(mail) {
      if (!smtpUrl) throw new Error('no SMTP server is configured (SMTP_URL)');
      await transportFor(smtpUrl).sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
    },
  };
}
