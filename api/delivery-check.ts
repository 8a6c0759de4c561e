/** Configuration-time SSRF check of a buyer's delivery URLs: a private, loopback or link-local target is a 400 naming the field. */
import type { DeliverySettings } from '../db/buyers';
import { checkDeliveryUrl, UrlRefused } from '../lib/url-guard';
import { Problem } from './problem';

export async function checkDeliveryUrls(
  delivery: DeliverySettings | undefined,
  allowlist: string | null | undefined,
  path = 'delivery',
): Promise<void> {
  if (!delivery?.webhookUrl) return;
  try {
    await checkDeliveryUrl(delivery.webhookUrl, allowlist);
  } catch (err) {
    if (!(err instanceof UrlRefused)) throw err;
    const errors = [{ in: 'body' as const, path: `${path}.webhookUrl`, message: err.message }];
    throw new Problem(400, 'validation_failed', `${path}.webhookUrl: ${err.message}`, { errors });
  }
}
