/**
 * The buyer's own settings (#12): hours of operation and pauses, alert
 * channels, minimum price and quiet hours, the low-balance threshold, and
 * lead filters where the agency allows them (PATCH /v1/me; the agency's
 * refusal is shown as it comes), and the buyer's API keys (shared/ApiKeys.tsx).
 */
import { type Api, ok } from '../shared/api';
import { ApiKeys } from '../shared/ApiKeys';
import { BuyerSideForm } from '../shared/BuyerSide';
import type { Me } from '../shared/types';
import { toast } from '../shared/ui';

export function SettingsPage({ api, me, onChanged }: { api: Api; me: Me; onChanged(me: Me): void }) {
  const buyer = me.buyer!;
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Settings</h1>
          <p class="muted">
            When you take leads, which leads, and how you hear about them. Your agency sees every change.
          </p>
        </div>
      </div>
      <BuyerSideForm
        key={buyer.updatedAt}
        buyer={buyer}
        onSave={async (patch) => {
          const next = await ok(api.client.PATCH('/v1/me', { body: patch }));
          onChanged(next);
          toast('Settings saved', 'ok');
        }}
      />
      <ApiKeys
        api={api}
        roles={['owner', 'member']}
        intro="Keys connect your CRM or app to your leads: a member key claims and reads leads, an owner key also changes settings and keys. A key is shown once."
      />
    </div>
  );
}
