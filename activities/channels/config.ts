/**
 * Delivery configuration of a worker process, from the environment unless given (tests pass theirs).
 * The variables (SMTP_URL, LW_MAIL_FROM, LW_SMS_PROVIDER_URL, LW_VOICE_PROVIDER_URL, LW_PROVIDER_TOKEN,
 * LW_PROVIDER_WEBHOOK_SECRET, LW_WEBHOOK_ALLOWLIST, LW_WEBHOOK_TIMEOUT_MS and the LW_DELIVERY_* schedule)
 * are declared, typed and defaulted in lib/config.ts; the default schedule spreads 12 attempts over about
 * 19 hours (docs/delivery.md).
 */
import type { DeliveryRetry } from '../../domain/delivery';
import { readConfig } from '../../lib/config';

export interface DeliveryConfig {
  smtpUrl: string | null;
  mailFrom: string;
  smsProviderUrl: string | null;
  voiceProviderUrl: string | null;
  providerToken: string | null;
  providerSigningSecret: string | null;
  allowlist: string | null;
  timeoutMs: number;
  retry: Omit<DeliveryRetry, 'attemptTimeoutMs'>;
}

/** The environment's delivery settings, validated by the one configuration schema (lib/config.ts). */
export function deliveryConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DeliveryConfig {
  const c = readConfig(env);
  return {
    smtpUrl: c.SMTP_URL,
    mailFrom: c.LW_MAIL_FROM,
    smsProviderUrl: c.LW_SMS_PROVIDER_URL,
    voiceProviderUrl: c.LW_VOICE_PROVIDER_URL,
    providerToken: c.LW_PROVIDER_TOKEN,
    providerSigningSecret: c.LW_PROVIDER_WEBHOOK_SECRET,
    allowlist: c.LW_WEBHOOK_ALLOWLIST,
    timeoutMs: c.LW_WEBHOOK_TIMEOUT_MS,
    retry: {
      initialIntervalMs: c.LW_DELIVERY_INITIAL_INTERVAL_MS,
      backoffCoefficient: c.LW_DELIVERY_BACKOFF,
      maximumIntervalMs: c.LW_DELIVERY_MAX_INTERVAL_MS,
      maximumAttempts: c.LW_DELIVERY_MAX_ATTEMPTS,
    },
  };
}

export type DeliveryOverrides = Partial<Omit<DeliveryConfig, 'retry'>> & { retry?: Partial<DeliveryConfig['retry']> };

/** The environment's configuration with the given overrides on top. */
export function resolveDeliveryConfig(overrides: DeliveryOverrides = {}): DeliveryConfig {
  const base = deliveryConfigFromEnv();
  return { ...base, ...overrides, retry: { ...base.retry, ...overrides.retry } } as DeliveryConfig;
}
