/**
 * The emails people get from their accounts (#20): a first-run setup link,
 * an invitation, a sign-in link, a password reset. They go through the same
 * SMTP transport as lead emails (`SMTP_URL`, activities/channels/email.ts);
 * without one, the API logs that the message could not be sent and the flows
 * that need it answer as usual (nothing tells a caller whether an address
 * exists).
 */
import type { Request } from 'express';

import { transportFor } from '../lib/smtp';
import { addressedToLocalhost } from './sessions';

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

/**
 * The link an email carries: LW_PUBLIC_URL's, else the request's own origin
 * – but only when the request was addressed to localhost (a developer's
 * machine). Anywhere else a request's Host is the sender's to choose, and a
 * reset link built from it would carry the secret to the attacker's site; there
 * the answer is null and no email goes (set LW_PUBLIC_URL).
 */
export function accountLink(
  publicUrl: string | null,
  req: Request,
  path: string,
  params: Record<string, string>,
): string | null {
  const base = publicUrl ?? (addressedToLocalhost(req) ? `${req.protocol}://${req.headers.host}` : null);
  if (!base) return null;
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/**
 * Sends without making the request wait: the answer must not take longer
 * when an address has an account (and so gets an email) than when it has
 * none. A failure is logged without the message (it holds a secret link).
 */
export function mailInBackground(
  mailer: AccountMailer,
  logger: { warn(message: string, meta?: unknown): void },
  mail: AccountMail,
): void {
  mailer.send(mail).catch((err: unknown) => {
    logger.warn(`[api] an account email (${mail.subject}) could not be sent`, {
      error: err instanceof Error ? err.message : String(err),
    });
  });
}
