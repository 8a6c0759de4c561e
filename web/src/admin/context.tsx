/**
 * What every console page needs: the API client and the agency's directory
 * (buyers, campaigns, service lines) to turn ids into names.
 */
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useState } from 'preact/hooks';

import { allPages, type Api } from '../shared/api';
import { shortId } from '../shared/format';
import type { Agency, Buyer, Campaign, ServiceLine } from '../shared/types';

export interface Directory {
  agency: Agency;
  buyers: Buyer[];
  campaigns: Campaign[];
  serviceLines: ServiceLine[];
  loaded: boolean;
  buyerName(id: string | null | undefined): string;
  campaignName(id: string | null | undefined): string;
  reload(): Promise<void>;
}

export interface ConsoleContext {
  api: Api;
  dir: Directory;
}

export const Ctx = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const c = useContext(Ctx);
  if (!c) throw new Error('useConsole outside the console');
  return c;
}

export function useDirectory(api: Api, agency: Agency): Directory {
  const [buyers, setBuyers] = useState<Buyer[]>([]);
  const [campaigns, setCampaigns] = useState<Campaign[]>([]);
  const [serviceLines, setServiceLines] = useState<ServiceLine[]>([]);
  const [loaded, setLoaded] = useState(false);
  const reload = useCallback(async () => {
    const [b, c, s] = await Promise.all([
      allPages('buyers', (query) => api.client.GET('/v1/buyers', { params: { query } }), 2_000),
      allPages('campaigns', (query) => api.client.GET('/v1/campaigns', { params: { query } }), 1_000),
      allPages('serviceLines', (query) => api.client.GET('/v1/service-lines', { params: { query } }), 500),
    ]);
    setBuyers(b.sort((x, y) => x.name.localeCompare(y.name)));
    setCampaigns(c.sort((x, y) => x.name.localeCompare(y.name)));
    setServiceLines(s.sort((x, y) => x.key.localeCompare(y.key)));
    setLoaded(true);
  }, [api]);
  useEffect(() => {
    void reload().catch(() => setLoaded(true));
  }, [reload]);
  return useMemo(() => {
    const bn = new Map(buyers.map((b) => [b.id, b.name]));
    const cn = new Map(campaigns.map((c) => [c.id, c.name]));
    return {
      agency,
      buyers,
      campaigns,
      serviceLines,
      loaded,
      buyerName: (id) => (id ? (bn.get(id) ?? `buyer ${shortId(id)}`) : '–'),
      campaignName: (id) => (id ? (cn.get(id) ?? `campaign ${shortId(id)}`) : '–'),
      reload,
    };
  }, [agency, buyers, campaigns, serviceLines, loaded, reload]);
}
