/** Every sending channel of this process, by name. */
import type { Channel, SendingChannel } from './channel';
import type { DeliveryConfig } from './config';
import { emailChannel } from './email';
import { providerChannel } from './messaging';
import { webhookChannel } from './webhook';

export type { Channel, SendingChannel } from './channel';

export function channelsFor(config: DeliveryConfig): Record<SendingChannel, Channel> {
  return {
    webhook: webhookChannel(config),
    email: emailChannel(config),
    sms: providerChannel('sms', config),
    voice: providerChannel('voice', config),
  };
}

/** The order channels run in (they run in parallel; this is the order they are listed). */
export { SENDING_CHANNELS } from '../../domain/types';
