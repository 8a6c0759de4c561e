/**
 * Delivery configuration of a worker process, from the environment unless
 * given (tests pass theirs):
 *
 * | env | meaning | default |
 * | --- | --- | --- |
 * | `SMTP_URL` | SMTP server for the email channel (`smtp://user:pass@host:587`); unset: no email channel | unset |
 * | `LW_MAIL_FROM` | sender address of lead emails | `Leadwire <leads@leadwire.invalid>` |
 * | `LW_SMS_PROVIDER_URL`, `LW_VOICE_PROVIDER_URL` | the messaging provider's webhook; unset: no SMS / voice channel | unset |
 * | `LW_PROVIDER_TOKEN` | sent as `Authorization: Bearer` to the provider | unset |
 * | `LW_PROVIDER_WEBHOOK_SECRET` | `whsec_…`: signs provider posts per Standard Webhooks | unset |
 * | `LW_WEBHOOK_ALLOWLIST` | internal hosts/IPs/CIDRs deliveries may reach | none |
 * | `LW_WEBHOOK_TIMEOUT_MS` | one HTTP attempt's limit | 10000 |
 * | `LW_DELIVERY_MAX_ATTEMPTS` | attempts per channel and sale | 12 |
 * | `LW_DELIVERY_INITIAL_INTERVAL_MS`, `LW_DELIVERY_MAX_INTERVAL_MS`, `LW_DELIVERY_BACKOFF` | the schedule between attempts (±20 % jitter; a `Retry-After` wins) | 10000, 14400000 (4 h), 3 |
 *
 * The default schedule spreads 12 attempts over about 19 hours (docs/delivery.md).
 */
import type { DeliveryRetry } from '../../domain/delivery';

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

const num = (v: string | undefined, d: number) =>
  v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : d;

export function deliveryConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DeliveryConfig {
  return {
    smtpUrl: env.SMTP_URL || null,
    mailFrom: env.LW_MAIL_FROM || 'Leadwire <leads@leadwire.invalid>',
    smsProviderUrl: env.LW_SMS_PROVIDER_URL || null,
    voiceProviderUrl: env.LW_VOICE_PROVIDER_URL || null,
    providerToken: env.LW_PROVIDER_TOKEN || null,
    providerSigningSecret: env.LW_PROVIDER_WEBHOOK_SECRET || null,
    allowlist: env.LW_WEBHOOK_ALLOWLIST ?? null,
    timeoutMs: num(env.LW_WEBHOOK_TIMEOUT_MS, 10_000),
    retry: {
      initialIntervalMs: num(env.LW_DELIVERY_INITIAL_INTERVAL_MS, 10_000),
      backoffCoefficient: num(env.LW_DELIVERY_BACKOFF, 3),
      maximumIntervalMs: num(env.LW_DELIVERY_MAX_INTERVAL_MS, 4 * 3_600_000),
      maximumAttempts: Math.max(1, Math.floor(num(env.LW_DELIVERY_MAX_ATTEMPTS, 12))),
    },
  };
}

export type DeliveryOverrides = Partial<Omit<DeliveryConfig, 'retry'>> & { retry?: Partial<DeliveryConfig['retry']> };

/** The environment's configuration with the given overrides on top. */
export function resolveDeliveryConfig(overrides: DeliveryOverrides = {}): DeliveryConfig {
  const base = deliveryConfigFromEnv();
  return { ...base, ...overrides, retry: { ...base.retry, ...overrides.retry } } as DeliveryConfig;
}
