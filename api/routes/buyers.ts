/**
 * The agency's buyers: profile (service lines, area, caps, delivery), status,
 * keys, credits and ledger. Every lookup is scoped to the caller's agency, so
 * another agency's buyer is a 404.
 */
import crypto from 'node:crypto';

import { knownServiceLines } from '../../db/agencies';
import { buyerChangeHistory } from '../../db/audit';
import {
  buyerCloseRates,
  changeBuyer,
  createBuyerWithKey,
  getBuyer,
  listBuyers,
  rotateWebhookSecret,
} from '../../db/buyers';
import { issueKey } from '../../db/keys';
import { creditBuyer, listLedger, pgErrorOf } from '../../db/ledger';
import { buyerStats } from '../../db/reports';
import { DEFAULT_ROTATION_OVERLAP_SECONDS } from '../../domain/delivery';
import { auditBy } from '../audit';
import { checkDeliveryUrls } from '../delivery-check';
import { listBody, pageArgs } from '../pagination';
import { balanceTooLarge, notFound } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { IdParams, PageQuery } from '../schemas';
import type { ApiServices } from '../services';
import { invalidField } from '../validate';
import { buyerChangeView, buyerView, ledgerEntryView } from '../views';
import {
  BuyerCreate,
  BuyerPatch,
  BuyersQuery,
  BuyerStatsQuery,
  CreditsCreate,
  KeyCreate,
  Responses,
  WebhookSecretRotate,
} from './buyers.schemas';

/** Every listed service line must be one the agency defined. */
export async function checkServiceLines(
  services: ApiServices,
  agencyId: string,
  keys: string[] | undefined,
  path: string,
): Promise<void> {
  if (!keys?.length) return;
  const known = await knownServiceLines(services.db, agencyId, [...new Set(keys)]);
  const i = keys.findIndex((k) => !known.has(k));
  if (i >= 0)
    throw invalidField(`${path}.${i}`, `unknown service line "${keys[i]}" (create it with POST /v1/service-lines)`);
}

/** The caller's agency's buyer, or 404. */
export async function loadBuyer(services: ApiServices, agencyId: string, id: string) {
  const buyer = await getBuyer(services.db, agencyId, id);
  if (!buyer) throw notFound('buyer');
  return buyer;
}

export const buyerRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/buyers',
    operationId: 'createBuyer',
    tag: 'Buyers',
    summary: 'Create a buyer with its wallet; answers its API key and webhook signing secret, shown once',
    body: BuyerCreate,
    responses: { 201: { description: 'created', schema: Responses.BuyerCreated }, ...BODY_ERRORS, ...AUTH_ERRORS },
    async handler({ principal, body, services }) {
      await checkServiceLines(services, principal.agencyId, body.serviceLines, 'serviceLines');
      await checkDeliveryUrls(body.delivery, services.webhookAllowlist);
      const { buyer, key } = await createBuyerWithKey(services.db, principal.agencyId, body, auditBy(principal));
      return {
        status: 201,
        body: { buyer: buyerView(buyer, 0), apiKey: key.key, webhookSecret: buyer.webhookSecret! },
      };
    },
  }),

  route({
    method: 'get',
    path: '/v1/buyers',
    operationId: 'listBuyers',
    tag: 'Buyers',
    summary: "The agency's buyers, newest first",
    query: BuyersQuery,
    responses: { 200: { description: 'a page', schema: Responses.Buyers }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listBuyers(services.db, principal.agencyId, pageArgs(query), {
        status: query.status,
        endpoint: query.endpoint,
      });
      return { status: 200, body: listBody('buyers', page, (b) => buyerView(b, b.balance)) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/buyers/:id',
    operationId: 'getBuyer',
    tag: 'Buyers',
    summary: 'One buyer, with its balance',
    params: IdParams,
    responses: {
      200: { description: 'the buyer', schema: Responses.Buyer },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      return { status: 200, body: { buyer: buyerView(buyer, buyer.balance) } };
    },
  }),

  route({
    method: 'patch',
    path: '/v1/buyers/:id',
    operationId: 'updateBuyer',
    tag: 'Buyers',
    summary: 'Change a buyer: pause or resume (with a reason), name, service lines, area, caps, delivery',
    params: IdParams,
    body: BuyerPatch,
    responses: {
      200: { description: 'the buyer as changed', schema: Responses.Buyer },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const before = await loadBuyer(services, principal.agencyId, params.id);
      await checkServiceLines(services, principal.agencyId, body.serviceLines, 'serviceLines');
      await checkDeliveryUrls(body.delivery, services.webhookAllowlist);
      const fields = Object.keys(body).filter((k) => (body as Record<string, unknown>)[k] !== undefined);
      if (body.status) fields.push('pauseReason');
      // New delivery settings resume a webhook endpoint paused after a 410 Gone (changeBuyer).
      const row = await changeBuyer(services.db, {
        agencyId: principal.agencyId,
        buyerId: params.id,
        by: auditBy(principal),
        patch: body,
        before,
        fields,
      });
      if (!row) throw notFound('buyer');
      if (body.status === 'paused') await services.accessChanged(principal.agencyId, row.id);
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      return { status: 200, body: { buyer: buyerView(buyer, buyer.balance) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/buyers/:id/credits',
    operationId: 'addCredits',
    tag: 'Buyers',
    summary: "Top up a buyer's wallet (Idempotency-Key: a retried top-up adds once)",
    params: IdParams,
    body: CreditsCreate,
    idempotent: true,
    responses: {
      201: { description: 'credited', schema: Responses.Credits },
      409: { description: 'Idempotency-Key reused with another body (`idempotency_conflict`)' },
      422: { description: 'the balance would exceed the largest storable amount (`validation_failed`)' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, idempotencyKey, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      try {
        const { entry } = await creditBuyer(
          services.db,
          {
            buyerId: buyer.id,
            agencyId: principal.agencyId,
            amount: body.amount,
            reference: body.reference ?? null,
            // The ledger's own key makes the top-up single even if the idempotency record is lost.
            idempotencyKey: idempotencyKey
              ? `topup:${buyer.id}:${idempotencyKey}`
              : `topup:${buyer.id}:${crypto.randomUUID()}`,
          },
          auditBy(principal),
        );
        return { status: 201, body: { balance: entry.balanceAfter, entry: ledgerEntryView(entry) } };
      } catch (err) {
        if (pgErrorOf(err).code === '22003') throw balanceTooLarge();
        throw err;
      }
    },
  }),

  route({
    method: 'get',
    path: '/v1/buyers/:id/ledger',
    operationId: 'buyerLedger',
    tag: 'Buyers',
    summary: "A buyer's ledger entries, newest first",
    params: IdParams,
    query: PageQuery,
    responses: { 200: { description: 'a page', schema: Responses.Ledger }, ...BAD_INPUT, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, params, query, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      const page = await listLedger(services.db, buyer.id, pageArgs(query));
      return { status: 200, body: listBody('entries', page, ledgerEntryView) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/buyers/:id/keys',
    operationId: 'createBuyerKey',
    tag: 'Buyers',
    summary: 'Issue a new API key for a buyer (shown once); optionally revoke its other keys',
    params: IdParams,
    body: KeyCreate,
    bodyOptional: true,
    responses: {
      201: { description: 'issued', schema: Responses.KeyCreated },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      const { key, revoked } = await issueKey(
        services.db,
        { kind: 'buyer', agencyId: principal.agencyId, buyerId: buyer.id },
        !!body.revokeExisting,
        auditBy(principal),
      );
      if (revoked) services.auth.forgetBuyer(buyer.id); // this process at once; the others within KEY_CACHE_MS
      if (revoked) await services.accessChanged(principal.agencyId, buyer.id);
      return { status: 201, body: { apiKey: key.key, revoked } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/buyers/:id/webhook-secret',
    operationId: 'rotateWebhookSecret',
    tag: 'Buyers',
    summary: "Rotate a buyer's webhook signing secret; answers the new one, shown once",
    description:
      'The secret signs webhook deliveries per Standard Webhooks (docs/delivery.md). It is shown at creation and on rotation only. For `overlapSeconds` (default 86400) the previous secret signs too – a second `v1,` signature in `webhook-signature` – so receivers can switch without missing a delivery. A rotation also ends the deprecated `X-Leadwire-Signature` header.',
    params: IdParams,
    body: WebhookSecretRotate,
    bodyOptional: true,
    responses: {
      201: { description: 'rotated', schema: Responses.WebhookSecret },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      const { webhookSecret, previousSecretUntil } = await rotateWebhookSecret(
        services.db,
        buyer,
        body.overlapSeconds ?? DEFAULT_ROTATION_OVERLAP_SECONDS,
        auditBy(principal),
      );
      return { status: 201, body: { webhookSecret, previousSecretUntil: previousSecretUntil?.toISOString() ?? null } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/buyers/:id/changes',
    operationId: 'buyerChanges',
    tag: 'Buyers',
    summary:
      "The audit trail of a buyer's settings, from the audit log: which side (admin, buyer, system) and who (`by`: the person or key) changed what, from what to what; newest first",
    params: IdParams,
    query: PageQuery,
    responses: {
      200: { description: 'a page', schema: Responses.BuyerChanges },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, query, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      const page = await buyerChangeHistory(services.db, principal.agencyId, buyer.id, pageArgs(query));
      return { status: 200, body: listBody('changes', page, buyerChangeView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/buyers/:id/stats',
    operationId: 'buyerStats',
    tag: 'Buyers',
    summary:
      'Engagement of a buyer over the last N days: claim latency, claims won/lost, viewed but ignored, delivery success, pipeline close rates per campaign',
    params: IdParams,
    query: BuyerStatsQuery,
    responses: {
      200: { description: 'the statistics', schema: Responses.BuyerStats },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, query, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      const since = new Date(Date.now() - query.days * 86_400_000);
      const [stats, pipeline] = await Promise.all([
        buyerStats(services.db, buyer.id, since),
        buyerCloseRates(services.db, buyer.id, since),
      ]);
      return { status: 200, body: { ...stats, pipeline } };
    },
  }),
];
