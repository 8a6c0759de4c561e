/**
 * Campaigns: what is sold, how and to whom. The list switches modes and
 * pauses in one click; the editor (campaign-editor/) covers mode, push
 * strategy, claim window, preview fields, pricing rules, winners, fallback,
 * caps and the buyer pool. Service lines (the vocabulary campaigns and buyers
 * share) live here too.
 */
import { useState } from 'preact/hooks';

import { ApiError, messageOf, ok } from '../shared/api';
import { credits } from '../shared/format';
import type { Campaign, Schemas } from '../shared/types';
import { Badge, Button, Empty, Field, Panel, toast, useAction } from '../shared/ui';
import { MODE_LABEL, STRATEGY_LABEL } from './campaign-editor/form';
import { PingTreeSummary } from './campaign-editor/PingTreeTiers';
import { useConsole } from './context';
import { Link, navigate } from './router';

export function Campaigns() {
  const { api, dir } = useConsole();
  const [patch, busy] = useAction(async (c: Campaign, body: Schemas['CampaignPatch'], msg: string) => {
    await ok(api.client.PATCH('/v1/campaigns/{id}', { params: { path: { id: c.id } }, body }));
    await dir.reload();
    toast(msg, 'ok');
  });
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Campaigns</h1>
          <p class="muted">
            A campaign sells one service line in one of two modes: <strong>ping post</strong> (a live claim auction:
            first valid claim wins) or <strong>push</strong> (assigned by round robin, priority or weight). Switching
            mode touches no buyer; leads in flight keep their settings.
          </p>
        </div>
        <Button
          variant="primary"
          onClick={() => navigate('/admin/campaigns/new')}
          disabled={!dir.serviceLines.length}
          title={dir.serviceLines.length ? '' : 'Add a service line first'}
        >
          New campaign
        </Button>
      </div>
      <ServiceLines />
      {dir.campaigns.length === 0 ? (
        <Empty title="No campaign yet">
          {dir.serviceLines.length
            ? 'Create one to start selling leads.'
            : 'Add a service line above, then create a campaign.'}
        </Empty>
      ) : (
        <Panel title={`${dir.campaigns.length} campaigns`}>
          <div class="table-wrap">
            <table class="table" data-testid="campaigns-table">
              <thead>
                <tr>
                  <th>Campaign</th>
                  <th>Mode</th>
                  <th class="num">Window</th>
                  <th class="num">Base price</th>
                  <th class="num">Winners</th>
                  <th>Pool</th>
                  <th>Fallback</th>
                  <th>Status</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {dir.campaigns.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <Link href={`/admin/campaigns/${c.id}`}>{c.name}</Link>
                      <div class="muted">{c.serviceLine}</div>
                    </td>
                    <td>
                      <Badge value={c.mode}>{MODE_LABEL[c.mode]}</Badge>
                      {c.mode === 'push' ? (
                        <div class="muted">{STRATEGY_LABEL[c.pushStrategy]}</div>
                      ) : c.auction === 'highest_bid' ? (
                        <div class="muted">highest bid</div>
                      ) : c.auction === 'ping_tree' && c.pingTree ? (
                        <div class="muted">
                          ping tree
                          <PingTreeSummary tree={c.pingTree} />
                        </div>
                      ) : null}
                    </td>
                    <td class="num">{c.mode === 'ping_post' ? `${c.claimWindowSeconds} s` : '–'}</td>
                    <td class="num">{credits(c.price.base)}</td>
                    <td class="num">{c.maxWinners === 1 ? 'exclusive' : c.maxWinners}</td>
                    <td>{c.buyers.length ? `${c.buyers.length} buyers` : 'all buyers'}</td>
                    <td>
                      {c.fallbackCampaignId ? (
                        dir.campaignName(c.fallbackCampaignId)
                      ) : (
                        <span class="muted">manual review</span>
                      )}
                    </td>
                    <td>
                      <Badge value={c.status} />
                    </td>
                    <td>
                      <div class="row-actions" style={{ marginTop: 0, flexWrap: 'nowrap' }}>
                        <Button
                          size="sm"
                          disabled={busy}
                          onClick={() =>
                            void patch(
                              c,
                              { mode: c.mode === 'push' ? 'ping_post' : 'push' },
                              `${c.name} now runs as ${c.mode === 'push' ? 'ping post' : 'push'}`,
                            )
                          }
                        >
                          Switch to {c.mode === 'push' ? 'ping post' : 'push'}
                        </Button>
                        <Button
                          size="sm"
                          variant="ghost"
                          disabled={busy}
                          onClick={() =>
                            void patch(
                              c,
                              { status: c.status === 'active' ? 'paused' : 'active' },
                              `${c.name} ${c.status === 'active' ? 'paused' : 'resumed'}`,
                            )
                          }
                        >
                          {c.status === 'active' ? 'Pause' : 'Resume'}
                        </Button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Panel>
      )}
    </div>
  );
}

function ServiceLines() {
  const { api, dir } = useConsole();
  const [key, setKey] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [add, busy] = useAction(async () => {
    setError(null);
    try {
      await ok(api.client.POST('/v1/service-lines', { body: { key, name: name || key } }));
    } catch (err) {
      setError(err instanceof ApiError ? (err.fieldError('key') ?? err.detail) : messageOf(err));
      throw err;
    }
    setKey('');
    setName('');
    await dir.reload();
  });
  return (
    <Panel title="Service lines" actions={<span class="muted">what buyers subscribe to and campaigns sell</span>}>
      <div class="checks" style={{ marginBottom: '12px' }}>
        {dir.serviceLines.length ? (
          dir.serviceLines.map((s) => (
            <span key={s.id} class="chip chip-on" title={s.name}>
              {s.key}
              <span class="muted">{s.name !== s.key ? s.name : ''}</span>
            </span>
          ))
        ) : (
          <span class="muted">None yet – add the first one (e.g. roofing).</span>
        )}
      </div>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <Field label="Key" error={error ?? undefined}>
          <input
            type="text"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value.toLowerCase())}
            placeholder="roofing"
            pattern="[a-z0-9][a-z0-9_-]*"
            required
          />
        </Field>
        <Field label="Name">
          <input type="text" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="Roofing" />
        </Field>
        <Button type="submit" busy={busy}>
          Add service line
        </Button>
      </form>
    </Panel>
  );
}
