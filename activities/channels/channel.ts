/**
 * The delivery channel interface. A channel sends one sold lead to one buyer
 * by one means (webhook, email, SMS, voice); the dashboard is the buyer's own
 * feed and needs no sending. A channel throws to fail the attempt (Temporal
 * retries it with the channel's policy) and throws `UrlRefused` (or another
 * refusal) for what no retry can fix.
 */
import type { DeliverySettings } from '../../db/buyers';
import type { DeliveryPayload } from '../../domain/delivery';
import type { DeliveryChannel } from '../../domain/types';
import type { SigningKeys } from './signing';

export type SendingChannel = Exclude<DeliveryChannel, 'dashboard'>;

export interface DeliveryContext {
  payload: DeliveryPayload;
  buyer: { id: string; name: string; delivery: DeliverySettings; signing: SigningKeys };
  attempt: number;
}

export interface Sent {
  /** What the far end answered, for the timeline (e.g. "HTTP 200", "250 OK"). */
  detail: string;
  /** HTTP channels: the status, the first bytes of the answer, the Standard Webhooks message id. */
  status?: number;
  response?: string;
  messageId?: string;
}

export interface Channel {
  readonly name: SendingChannel;
  /** Whether this buyer (and this process's configuration) uses the channel. */
  configured(buyer: { delivery: DeliverySettings; webhookPausedAt?: Date | null }): boolean;
  send(ctx: DeliveryContext): Promise<Sent>;
}
