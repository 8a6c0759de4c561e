/**
 * The campaign editor's pricing: the base price, then the rules applied to
 * it – ZIP tiers (first match wins), multipliers by service line, adjustments
 * by answer – each a list of rows edited through the one form state (form.ts).
 */
import type { ComponentChildren } from 'preact';

import { Button, Field, Panel } from '../../shared/ui';
import type { CampaignForm, Form, RuleList } from './form';

/** One rule list: its rows (the inputs `cells` gives each), a remove button per row, and an add button. */
function RuleRows<L extends RuleList>({
  form,
  list,
  title,
  rowClass,
  cells,
  blank,
  addLabel,
}: {
  form: CampaignForm;
  list: L;
  title: string;
  rowClass: string;
  cells(row: Form[L][number], set: (p: Partial<Form[L][number]>) => void): ComponentChildren;
  blank: Form[L][number];
  addLabel: string;
}) {
  const rows = form.f[list] as Form[L][number][];
  return (
    <div class="form-section">
      <h3>{title}</h3>
      {rows.map((row, i) => (
        <div class={rowClass} key={i}>
          {cells(row, (p) => form.setRow(list, i, p))}
          <button type="button" class="icon-btn" aria-label="Remove" onClick={() => form.removeRow(list, i)}>
            ×
          </button>
        </div>
      ))}
      <Button size="sm" variant="ghost" onClick={() => form.addRow(list, blank)}>
        {addLabel}
      </Button>
    </div>
  );
}

export function PricingPanel({ form }: { form: CampaignForm }) {
  const { f, up, fe } = form;
  return (
    <Panel title="Pricing">
      <Field label="Base price (credits)" error={fe('price.base') ?? fe('price')}>
        <input
          type="number"
          name="base"
          min={0}
          value={f.base}
          onInput={(e) => up({ base: e.currentTarget.value })}
          required
        />
      </Field>
      <RuleRows
        form={form}
        list="zipTiers"
        title="ZIP tiers – first match wins"
        rowClass="rule-row two"
        blank={{ zips: '', price: '' }}
        addLabel="+ ZIP tier"
        cells={(t, set) => (
          <>
            <input
              type="text"
              placeholder="ZIPs or prefixes: 900, 78701"
              value={t.zips}
              onInput={(e) => set({ zips: e.currentTarget.value })}
            />
            <input
              type="number"
              placeholder="price"
              value={t.price}
              onInput={(e) => set({ price: e.currentTarget.value })}
            />
          </>
        )}
      />
      <RuleRows
        form={form}
        list="multipliers"
        title="Multipliers by service line"
        rowClass="rule-row two"
        blank={{ key: f.serviceLine, factor: '1.5' }}
        addLabel="+ Multiplier"
        cells={(m, set) => (
          <>
            <input
              type="text"
              placeholder="service line"
              value={m.key}
              onInput={(e) => set({ key: e.currentTarget.value })}
            />
            <input
              type="number"
              step="0.05"
              placeholder="× 1.5"
              value={m.factor}
              onInput={(e) => set({ factor: e.currentTarget.value })}
            />
          </>
        )}
      />
      <RuleRows
        form={form}
        list="adjustments"
        title="Adjustments by answer"
        rowClass="rule-row"
        blank={{ question: 'homeowner', equals: 'yes', add: '5' }}
        addLabel="+ Adjustment"
        cells={(a, set) => (
          <>
            <input
              type="text"
              placeholder="question"
              value={a.question}
              onInput={(e) => set({ question: e.currentTarget.value })}
            />
            <input
              type="text"
              placeholder="equals"
              value={a.equals}
              onInput={(e) => set({ equals: e.currentTarget.value })}
            />
            <input
              type="number"
              placeholder="+ credits"
              value={a.add}
              onInput={(e) => set({ add: e.currentTarget.value })}
            />
          </>
        )}
      />
    </Panel>
  );
}
