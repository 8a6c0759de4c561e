/**
 * The agency's buyers with an endpoint (GET /v1/buyers?endpoint=set), as the
 * campaign editor's pickers of endpoint buyers need them – the ping tree's
 * tiers (PingTreeTiers.tsx) and a highest-bid auction's endpoint bidders
 * (EndpointBidders.tsx): their ids, read again when the console's buyers change.
 */
import { allPages } from '../../shared/api';
import { useAsync } from '../../shared/ui';
import { useConsole } from '../context';

/** The ids of the agency's buyers with an endpoint; nothing is asked while `on` is false. */
export function useEndpointBuyerIds(on = true) {
  const { api, dir } = useConsole();
  return useAsync(
    async () =>
      on
        ? allPages(
            'buyers',
            (query) => api.client.GET('/v1/buyers', { params: { query: { ...query, endpoint: 'set' } } }),
            2_000,
          ).then((bs) => new Set(bs.map((b) => b.id)))
        : new Set<string>(),
    [dir.buyers, on],
  );
}
