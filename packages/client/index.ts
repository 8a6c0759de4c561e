/**
 * @leadwire/client: the Leadwire API's typed client. `schema.d.ts` is
 * generated from the served OpenAPI document (`npm run client:generate`; CI
 * fails when it is stale), and openapi-fetch turns it into calls whose paths,
 * parameters, bodies and answers are checked by the compiler:
 *
 *   const api = createLeadwireClient({ baseUrl: 'https://leads.example.com', apiKey: 'lw_…' });
 *   const { data, error, response } = await api.POST('/v1/offers/{id}/claim', { params: { path: { id } }, body: { requestId } });
 *
 * `data` is the 2xx answer, `error` the problem document (or a claim's
 * refusal) of any other status. The web pages, the benchmark's load generator
 * and the API tests all call the API through it.
 *
 * The live feed (`/v1/feed`, a WebSocket) has its types here too: `feed.d.ts`
 * is generated from the served AsyncAPI document, one type per message
 * (`OfferOpenedMessage`, `ClaimResultMessage`…) and the unions of what the
 * gateway sends (`FeedServerMessage`) and accepts (`FeedClientMessage`), and
 * the codes it closes a socket with (`FEED_CLOSE_CODES`, feed-close-codes.ts).
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';

import type { components, paths } from './schema';

export type { components, operations, paths } from './schema';
export type {
  BidMessage,
  BidResultMessage,
  ClaimMessage,
  ClaimResultMessage,
  ErrorMessage,
  FeedClientMessage,
  FeedMessages,
  FeedServerMessage,
  OfferClosedMessage,
  OfferOpenedMessage,
  SnapshotMessage,
  ViewedMessage,
} from './feed';
export { FEED_CLOSE_CODES } from './feed-close-codes';

/** The named schemas of the document: `Schemas['ClaimWon']`, `Schemas['Problem']`… */
export type Schemas = components['schemas'];
export type LeadwireClient = Client<paths>;

export interface LeadwireClientOptions extends ClientOptions {
  /** Sent as `Authorization: Bearer <key>`; a function is asked on every request (a key that changes); null/empty: none. */
  apiKey?: string | null | (() => string | null | undefined);
}

export function createLeadwireClient({ apiKey, ...options }: LeadwireClientOptions = {}): LeadwireClient {
  const client = createClient<paths>(options);
  if (apiKey !== undefined) {
    client.use({
      onRequest({ request }) {
        const key = typeof apiKey === 'function' ? apiKey() : apiKey;
        if (key) request.headers.set('Authorization', `Bearer ${key}`);
        return request;
      },
    });
  }
  return client;
}

/** The body of an answer with the expected status; else an Error naming the call, the status and what came back. */
export async function expectStatus<T>(
  what: string,
  status: number,
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (response.status !== status || data === undefined)
    throw new Error(`${what}: ${response.status} ${JSON.stringify(error ?? data)?.slice(0, 500)}`);
  return data;
}

/** The Authorization header of one call (a client shared by many keys, e.g. the benchmark's buyers). */
export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
