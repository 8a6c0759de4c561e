/**
 * The campaign editor's endpoint bidders (#22), for a highest-bid campaign:
 * the agency's buyers that have an endpoint, each a checkbox. The chosen ones
 * are pinged when an offer opens and bid in its window beside the feed's
 * buyers (docs/buyer-endpoints.md). Buyers without an endpoint are not
 * offered; one chosen earlier and since stripped of its endpoint stays listed
 * (unchecking it is how to fix the campaign the API then refuses).
 */
import { ErrorNote, Loading, Panel } from '../../shared/ui';
import { useConsole } from '../context';
import { useEndpointBuyerIds } from './endpoint-buyers';
import type { CampaignForm } from './form';

export function EndpointBiddersPanel({ form: { f, up, fe } }: { form: CampaignForm }) {
  const { dir } = useConsole();
  const highestBid = f.mode === 'ping_post' && f.auction === 'highest_bid';
  const withEndpoint = useEndpointBuyerIds(highestBid);
  if (!highestBid) return null;
  const shown = dir.buyers.filter((b) => withEndpoint.data?.has(b.id) || f.endpointBidders.includes(b.id));
  const toggle = (id: string, on: boolean) =>
    up({ endpointBidders: on ? [...f.endpointBidders, id] : f.endpointBidders.filter((x) => x !== id) });
  const errors = f.endpointBidders.flatMap((_, i) => fe(`endpointBidders.${i}`) ?? []);
  return (
    <Panel
      title="Endpoint bidders"
      actions={<span class="muted">their own systems are pinged when the offer opens and bid in its window</span>}
    >
      <div data-testid="endpoint-bidders">
        {withEndpoint.loading && !withEndpoint.data ? <Loading label="Finding buyers with an endpoint…" /> : null}
        <ErrorNote error={withEndpoint.error} />
        {withEndpoint.data && !shown.length ? (
          <p class="muted">No buyer of this agency has an endpoint yet (a buyer's page sets one up).</p>
        ) : null}
        <div class="checks">
          {shown.map((b) => {
            const on = f.endpointBidders.includes(b.id);
            return (
              <label key={b.id} class={`chip ${on ? 'chip-on' : ''}`}>
                <input
                  type="checkbox"
                  name="endpointBidder"
                  value={b.id}
                  checked={on}
                  onChange={(e) => toggle(b.id, e.currentTarget.checked)}
                />
                {b.name}
              </label>
            );
          })}
        </div>
        {[fe('endpointBidders'), ...errors].filter(Boolean).map((m) => (
          <div class="field-msg" key={m}>
            {m}
          </div>
        ))}
      </div>
    </Panel>
  );
}
