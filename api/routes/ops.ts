/**
 * Operations and documentation: liveness, readiness (database and Temporal
 * answer), Prometheus metrics, the OpenAPI document and its HTML page, and
 * the feed's plain-HTTP face (426: it is a WebSocket).
 */
import { databaseAnswers } from '../../db/connection';
import { Problem } from '../problem';
import { REFERENCE_SCRIPT_PATH, referencePage, referenceScript } from '../reference-page';
import { type AnyRoute, route } from '../route';
import type { ApiServices } from '../services';
import { Responses } from './ops.schemas';

const READY_TIMEOUT_MS = 2_000;

async function temporalAnswers(services: ApiServices): Promise<boolean> {
  try {
    await services.temporal.withDeadline(Date.now() + READY_TIMEOUT_MS, () =>
      services.temporal.workflowService.getSystemInfo({}),
    );
    return true;
  } catch {
    return false;
  }
}

async function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function opsRoutes(docs: { json: () => unknown; html: () => string; asyncApi: () => unknown }): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/healthz',
      operationId: 'healthz',
      tag: 'Ops',
      summary: 'Liveness: the process answers',
      responses: { 200: { description: 'alive', schema: Responses.Health } },
      async handler() {
        return { status: 200, body: { status: 'ok' } };
      },
    }),

    route({
      method: 'get',
      path: '/readyz',
      operationId: 'readyz',
      tag: 'Ops',
      summary: "Readiness: the database answers SELECT 1, Temporal answers, and the feed's event bus is listening",
      responses: {
        200: { description: 'ready', schema: Responses.Ready },
        503: { description: 'not ready', schema: Responses.Ready },
      },
      async handler({ services }) {
        const [database, temporal] = await Promise.all([
          within(databaseAnswers(services.db), READY_TIMEOUT_MS, false),
          temporalAnswers(services),
        ]);
        const bus = services.bus.state().connected;
        const ready = database && temporal && bus;
        const body = { status: ready ? ('ready' as const) : ('not_ready' as const), database, temporal, bus };
        // A 503 says when to look again, as every 503 of this API does.
        return ready ? { status: 200, body } : { status: 503, body, headers: { 'Retry-After': '5' } };
      },
    }),

    route({
      method: 'get',
      path: '/metrics',
      operationId: 'metrics',
      tag: 'Ops',
      summary:
        'Prometheus metrics (requests, claims and their latency, feed connections and latency, offers open, activities, lead outcomes, deliveries)',
      responses: {
        200: {
          description: 'text exposition format',
          contentType: 'text/plain; version=0.0.4',
          example:
            '# HELP leadwire_offers_open Offers open now (read from the database at scrape)\n# TYPE leadwire_offers_open gauge\nleadwire_offers_open 3\n',
        },
      },
      async handler({ services }) {
        return {
          status: 200,
          raw: await services.metrics.render(),
          contentType: 'text/plain; version=0.0.4; charset=utf-8',
        };
      },
    }),

    route({
      method: 'get',
      path: '/v1/openapi.json',
      operationId: 'openapi',
      tag: 'Ops',
      summary: 'This document (OpenAPI 3.1), generated from the schemas the routes validate with',
      responses: {
        200: {
          description: 'the document',
          contentType: 'application/json',
          example: { openapi: '3.1.0', info: { title: 'Leadwire API', version: '0.1.0' }, paths: {} },
        },
      },
      async handler() {
        return { status: 200, body: docs.json() };
      },
    }),

    route({
      method: 'get',
      path: '/v1/asyncapi.json',
      operationId: 'asyncapi',
      tag: 'Ops',
      summary:
        'The live feed (/v1/feed) as an AsyncAPI 3.0 document, generated from the message schemas the gateway uses',
      responses: {
        200: {
          description: 'the document',
          contentType: 'application/json',
          example: { asyncapi: '3.0.0', info: { title: 'Leadwire live feed', version: '0.1.0' }, channels: {} },
        },
      },
      async handler() {
        return { status: 200, body: docs.asyncApi() };
      },
    }),

    route({
      method: 'get',
      path: '/v1/docs',
      operationId: 'docs',
      tag: 'Ops',
      summary: 'The API reference as a web page',
      responses: {
        200: { description: 'HTML', contentType: 'text/html', example: '<!doctype html><html lang="en">…</html>' },
      },
      async handler() {
        return { status: 200, raw: docs.html(), contentType: 'text/html; charset=utf-8' };
      },
    }),

    route({
      method: 'get',
      path: '/v1/reference',
      operationId: 'apiReference',
      tag: 'Ops',
      summary: "The API reference (Scalar's renderer, served from this API: it works offline)",
      responses: {
        200: { description: 'HTML', contentType: 'text/html', example: '<!doctype html><html lang="en">…</html>' },
      },
      async handler() {
        return { status: 200, raw: referencePage('Leadwire API reference'), contentType: 'text/html; charset=utf-8' };
      },
    }),

    route({
      method: 'get',
      path: REFERENCE_SCRIPT_PATH,
      operationId: 'apiReferenceScript',
      tag: 'Ops',
      summary: "The reference page's script: Scalar's standalone bundle (@scalar/api-reference)",
      responses: {
        200: { description: 'JavaScript', contentType: 'text/javascript', example: '/* @scalar/api-reference */' },
      },
      async handler() {
        return { status: 200, raw: referenceScript(), contentType: 'text/javascript; charset=utf-8' };
      },
    }),

    route({
      method: 'get',
      path: '/v1/feed',
      operationId: 'feed',
      tag: 'Buyer',
      summary: 'Live feed (WebSocket): snapshot, offer.opened, offer.closed, answers; send viewed, claim and bid',
      description:
        'Connect with a WebSocket (`Upgrade: websocket`) and a buyer key as `Authorization: Bearer <key>` or `?token=<key>`; ' +
        'a bad key is refused with 401 before the upgrade. Messages: /v1/asyncapi.json (AsyncAPI 3.0). ' +
        'A plain HTTP request answers 426.',
      responses: {
        101: { description: 'switching protocols (WebSocket)' },
        401: { description: 'upgrade refused: missing or invalid buyer key' },
        426: { description: 'not a WebSocket request (`upgrade_required`)' },
      },
      async handler() {
        throw new Problem(426, 'upgrade_required', 'Connect to /v1/feed with a WebSocket.', {
          headers: { Upgrade: 'websocket', Connection: 'Upgrade' },
        });
      },
    }),
  ];
}
