/**
 * The buyer's side settings form (#12), one component for both pages: the
 * buyer's own Settings tab (PATCH /v1/me) and the agency console's buyer page
 * (PATCH /v1/buyers/:id). Hours of operation per weekday, pauses with an end,
 * alert channels, minimum price and quiet hours, the low-balance threshold,
 * and lead filters (as JSON rules; the API names a bad rule).
 */
import { useState } from 'preact/hooks';

import { dateTime } from './format';
import type { Buyer } from './types';
import { Button, ErrorNote, Field, Panel } from './ui';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const DAY_NAMES: Record<(typeof DAYS)[number], string> = {
  mon: 'Monday',
  tue: 'Tuesday',
  wed: 'Wednesday',
  thu: 'Thursday',
  fri: 'Friday',
  sat: 'Saturday',
  sun: 'Sunday',
};
const CHANNELS = ['webhook', 'email', 'sms', 'voice'] as const;

type Schedule = NonNullable<Buyer['schedule']>;
type Ranges = { from: string; to: string }[];

/** "08:00-12:00, 13:00-18:00" ⇄ ranges. */
const rangesText = (r: Ranges | undefined) => (r ?? []).map((x) => `${x.from}-${x.to}`).join(', ');
function parseRanges(text: string): Ranges {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [from = '', to = ''] = s.split('-').map((x) => x.trim());
      return { from, to };
    });
}

/** Whether the buyer takes leads now, and when it opens again. */
function AvailabilityNote({ buyer }: { buyer: Buyer }) {
  const a = buyer.availability;
  if (a.open)
    return (
      <p class="availability availability-open" data-testid="availability">
        Taking leads now.
      </p>
    );
  return (
    <p class="availability availability-closed" data-testid="availability">
      {a.why === 'pause' ? 'Paused' : 'Outside your hours'} –{' '}
      {a.opensAt ? `opens again ${dateTime(a.opensAt)}` : 'no opening hours set'}.
    </p>
  );
}

export function BuyerSideForm({
  buyer,
  onSave,
}: {
  buyer: Buyer;
  onSave(patch: Record<string, unknown>): Promise<unknown>;
}) {
  const [timeZone, setTimeZone] = useState(buyer.timeZone ?? '');
  const [alwaysOpen, setAlwaysOpen] = useState(buyer.schedule === null);
  const [days, setDays] = useState<Record<string, string>>(() =>
    Object.fromEntries(DAYS.map((d) => [d, rangesText((buyer.schedule as Schedule | null)?.[d])])),
  );
  const [pauses, setPauses] = useState(buyer.pauses);
  const [pauseUntil, setPauseUntil] = useState('');
  const [pauseNote, setPauseNote] = useState('');
  const [channels, setChannels] = useState<string[]>(buyer.alerts.channels ?? []);
  const [minPrice, setMinPrice] = useState(buyer.alerts.minPrice?.toString() ?? '');
  const [quietFrom, setQuietFrom] = useState(buyer.alerts.quietHours?.from ?? '');
  const [quietTo, setQuietTo] = useState(buyer.alerts.quietHours?.to ?? '');
  const [threshold, setThreshold] = useState(buyer.lowBalanceThreshold?.toString() ?? '');
  const [filters, setFilters] = useState(buyer.filters ? JSON.stringify(buyer.filters, null, 2) : '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const save = async () => {
    setError(null);
    let parsedFilters: unknown = null;
    try {
      parsedFilters = filters.trim() ? JSON.parse(filters) : null;
    } catch {
      setError(new Error('The filters are not valid JSON.'));
      return;
    }
    const schedule = alwaysOpen
      ? null
      : Object.fromEntries(DAYS.map((d) => [d, parseRanges(days[d] ?? '')]).filter(([, r]) => (r as Ranges).length));
    const patch: Record<string, unknown> = {
      timeZone: timeZone.trim() || null,
      schedule,
      pauses,
      alerts: {
        channels,
        ...(minPrice.trim() ? { minPrice: Number(minPrice) } : {}),
        ...(quietFrom && quietTo ? { quietHours: { from: quietFrom, to: quietTo } } : {}),
      },
      lowBalanceThreshold: threshold.trim() ? Number(threshold) : null,
    };
    // Filters only when changed: a buyer whose agency sets them may still save the rest.
    if (JSON.stringify(parsedFilters) !== JSON.stringify(buyer.filters)) patch.filters = parsedFilters;
    setBusy(true);
    try {
      await onSave(patch);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="buyer-side" data-testid="buyer-side-form">
      <Panel title="Hours of operation">
        <AvailabilityNote buyer={buyer} />
        <Field label="Time zone" hint="IANA name, e.g. America/New_York; empty: the agency's">
          <input
            class="input"
            value={timeZone}
            placeholder="agency's time zone"
            onInput={(e) => setTimeZone(e.currentTarget.value)}
            data-testid="time-zone"
          />
        </Field>
        <label class="check">
          <input
            type="checkbox"
            checked={alwaysOpen}
            onChange={(e) => setAlwaysOpen(e.currentTarget.checked)}
            data-testid="always-open"
          />{' '}
          Always open
        </label>
        {alwaysOpen ? null : (
          <div class="schedule-grid">
            {DAYS.map((d) => (
              <Field key={d} label={DAY_NAMES[d]} hint="e.g. 08:00-12:00, 13:00-18:00; empty: closed">
                <input
                  class="input"
                  value={days[d]}
                  onInput={(e) => setDays({ ...days, [d]: e.currentTarget.value })}
                  data-testid={`day-${d}`}
                />
              </Field>
            ))}
          </div>
        )}
        <h3 class="subhead">Pauses</h3>
        {pauses.length ? (
          <ul class="pause-list" data-testid="pauses">
            {pauses.map((p, i) => (
              <li key={`${p.until}-${i}`}>
                Until {dateTime(p.until)}
                {p.note ? ` – ${p.note}` : ''}{' '}
                <Button size="sm" variant="ghost" onClick={() => setPauses(pauses.filter((_, j) => j !== i))}>
                  Remove
                </Button>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No pauses.</p>
        )}
        <div class="row">
          <Field label="Pause until">
            <input
              class="input"
              type="datetime-local"
              value={pauseUntil}
              onInput={(e) => setPauseUntil(e.currentTarget.value)}
              data-testid="pause-until"
            />
          </Field>
          <Field label="Note">
            <input
              class="input"
              value={pauseNote}
              placeholder="back Monday 8:00"
              onInput={(e) => setPauseNote(e.currentTarget.value)}
            />
          </Field>
          <Button
            size="sm"
            disabled={!pauseUntil}
            onClick={() => {
              setPauses([
                ...pauses,
                { until: new Date(pauseUntil).toISOString(), ...(pauseNote.trim() ? { note: pauseNote.trim() } : {}) },
              ]);
              setPauseUntil('');
              setPauseNote('');
            }}
          >
            Add pause
          </Button>
        </div>
      </Panel>
      <Panel title="Alerts">
        <p class="muted">New offers and a low balance are sent on these channels (set up in the delivery settings).</p>
        <div class="row">
          {CHANNELS.map((c) => (
            <label key={c} class="check">
              <input
                type="checkbox"
                checked={channels.includes(c)}
                onChange={(e) =>
                  setChannels(e.currentTarget.checked ? [...channels, c] : channels.filter((x) => x !== c))
                }
                data-testid={`alert-${c}`}
              />{' '}
              {c === 'sms' ? 'SMS' : c[0]!.toUpperCase() + c.slice(1)}
            </label>
          ))}
        </div>
        <div class="row">
          <Field label="Minimum price" hint="no offer alert below it">
            <input
              class="input"
              inputMode="numeric"
              value={minPrice}
              onInput={(e) => setMinPrice(e.currentTarget.value)}
              data-testid="min-price"
            />
          </Field>
          <Field label="Quiet from">
            <input
              class="input"
              type="time"
              value={quietFrom}
              onInput={(e) => setQuietFrom(e.currentTarget.value)}
              data-testid="quiet-from"
            />
          </Field>
          <Field label="Quiet until">
            <input
              class="input"
              type="time"
              value={quietTo}
              onInput={(e) => setQuietTo(e.currentTarget.value)}
              data-testid="quiet-to"
            />
          </Field>
          <Field label="Low-balance alert below" hint="credits; empty: none">
            <input
              class="input"
              inputMode="numeric"
              value={threshold}
              onInput={(e) => setThreshold(e.currentTarget.value)}
              data-testid="low-balance-threshold"
            />
          </Field>
        </div>
      </Panel>
      <Panel title="Lead filters">
        <p class="muted">
          Rules on lead fields or answers:{' '}
          <code>{'{"match":"all","rules":[{"field":"answers.roofType","op":"in","values":["replace"]}]}'}</code> –
          operators equals, in, not_in, range (min, max), present, absent. Empty: every lead.
        </p>
        <textarea
          class="input mono"
          rows={5}
          value={filters}
          onInput={(e) => setFilters(e.currentTarget.value)}
          data-testid="filters"
        />
      </Panel>
      <ErrorNote error={error} />
      <div class="form-actions">
        <Button variant="primary" busy={busy} onClick={() => void save()} data-testid="save-buyer-side">
          Save
        </Button>
      </div>
    </div>
  );
}
