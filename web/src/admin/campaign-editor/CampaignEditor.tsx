/**
 * The campaign editor (/admin/campaigns/new, /admin/campaigns/:id): the page
 * that lays out the sections (sections.tsx, PricingRules.tsx) around the one
 * form state (form.ts) and saves it; below an existing campaign, its
 * per-buyer prices.
 */
import { Button, ErrorNote, Loading, Panel, toast } from '../../shared/ui';
import { BuyerPricesPanel } from '../BuyerSide';
import { useConsole } from '../context';
import { Link, navigate } from '../router';
import { EndpointBiddersPanel } from './EndpointBidders';
import { useCampaignForm } from './form';
import { PingTreePanel } from './PingTreeTiers';
import { PricingPanel } from './PricingRules';
import {
  BasicsFields,
  BuyerPoolPanel,
  CapsPanel,
  ConsentCertificatePanel,
  DeliveryModeFields,
  DncRulePanel,
  PreviewFieldsSection,
  WinnersAndFallbackFields,
} from './sections';

export function CampaignEditor({ id }: { id: string | null }) {
  const { api, dir } = useConsole();
  const existing = id ? (dir.campaigns.find((c) => c.id === id) ?? null) : null;
  const form = useCampaignForm(api, existing, dir.serviceLines[0]?.key ?? '');
  if (id && !existing) return <ErrorNote error={new Error('No such campaign in this agency.')} />;

  const save = (e: Event) => {
    e.preventDefault();
    void form.save(async (saved) => {
      await dir.reload();
      toast(existing ? 'Campaign saved' : 'Campaign created', 'ok');
      navigate(`/admin/campaigns/${saved.id}`, { replace: !existing });
    });
  };

  return (
    <div class="page">
      <div class="breadcrumb">
        <Link href="/admin/campaigns">Campaigns</Link> / {existing ? existing.name : 'new'}
      </div>
      <div class="page-head">
        <div>
          <h1>{existing ? existing.name : 'New campaign'}</h1>
          {existing ? (
            <p class="id">{existing.id}</p>
          ) : (
            <p class="muted">Changes apply to new leads; a lead in flight keeps the settings it was routed with.</p>
          )}
        </div>
      </div>
      <form onSubmit={save}>
        <div class="grid-2">
          <Panel title="Basics">
            <div class="stack">
              <BasicsFields form={form} />
              <DeliveryModeFields form={form} />
              <WinnersAndFallbackFields form={form} campaignId={existing?.id} />
            </div>
            <PreviewFieldsSection form={form} />
          </Panel>
          <div>
            <PricingPanel form={form} />
            <CapsPanel form={form} />
            <DncRulePanel form={form} />
            <ConsentCertificatePanel form={form} />
          </div>
        </div>
        {form.f.mode === 'ping_post' && form.f.auction === 'ping_tree' ? <PingTreePanel form={form} /> : null}
        <EndpointBiddersPanel form={form} />
        <BuyerPoolPanel form={form} />
        {form.error ? <ErrorNote error={form.error} /> : null}
        <div class="row-actions">
          <Button type="submit" variant="primary" size="lg" busy={form.busy}>
            {existing ? 'Save campaign' : 'Create campaign'}
          </Button>
          <Button variant="ghost" onClick={() => navigate('/admin/campaigns')}>
            Cancel
          </Button>
        </div>
      </form>
      {existing ? <BuyerPricesPanel campaignId={existing.id} /> : null}
      {!dir.loaded ? <Loading /> : null}
    </div>
  );
}
