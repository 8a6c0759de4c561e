import type { Db } from '../db/connection';
import type { OfferBus } from '../db/offer-bus';
import type { DeliveryOverrides } from './channels/config';

/** Hooks that fault-injection tests use to fail an activity at a precise point. */
export interface FaultHooks {
  /** Runs after the sale's transaction committed, before the activity returns. */
  afterSaleCommitted?: (sale: { offerId: string; buyerId: string }) => void | Promise<void>;
  /** Runs after an auto-recharge's PaymentIntent was created and attached, before the activity returns. */
  afterRechargeIntent?: (charge: { paymentId: string; paymentIntentId: string }) => void | Promise<void>;
}

export interface ActivityDeps {
  db: Db;
  bus: OfferBus;
  faults?: FaultHooks;
  /** Delivery channel settings over the environment's (SMTP_URL, LW_WEBHOOK_ALLOWLIST…; activities/channels/config.ts). */
  delivery?: DeliveryOverrides;
}
