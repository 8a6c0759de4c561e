/** Configuration-time SSRF check of a buyer's outbound URLs: a private, loopback or link-local target is a 400 naming the field. */
import type { DeliverySettings } from '../db/buyers';
import { checkDeliveryUrl, UrlRefused } from '../lib/url-guard';
import { Problem } from './problem';

export async function checkDeliveryUrls(
  delivery: DeliverySettings | undefined,
  allowlist: string | null | undefined,
  path = 'delivery',
): Promise<void> {
  if (!delivery?.webhookUrl) return;
  await checkUrlField(delivery.webhookUrl, allowlist, `${path}.webhookUrl`);
}

/** The same check of one URL field (a buyer endpoint's ping and post URLs): a refused target is a 400 naming `path`. */
export async function checkUrlField(url: string, allowlist: string | null | undefined, path: string): Promise<void> {
  try {
    await checkDeliveryUrl(url, allowlist);
  } catch (err) {
    if (!(err instanceof UrlRefused)) throw err;
    const errors = [{ in: 'body' as const, path, message: err.message }];
    throw new Problem(400, 'validation_failed', `${path}: ${err.message}`, { errors });
  }
}
