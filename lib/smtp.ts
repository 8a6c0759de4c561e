/** One SMTP transport per URL (nodemailer), shared by lead emails, alerts and account emails. */
import nodemailer, { type Transporter } from 'nodemailer';

const transports = new Map<string, Transporter>();

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
