/**
 * The buyer's pipeline board (#12): every lead it bought with its status
 * (new, contacted, appointment, quoted, won job, lost job) and the counts per
 * status. Changing a status records it with time and author; money is never
 * touched. A move back is refused by the API and shown.
 */
import { useState } from 'preact/hooks';

import { type Api, ok } from '../shared/api';
import { dateTime, num } from '../shared/format';
import type { PipelineBoard, PipelineStatus } from '../shared/types';
import { Button, Empty, ErrorNote, Loading, Panel, toast, useAsync } from '../shared/ui';

const STATUSES: PipelineStatus[] = ['new', 'contacted', 'appointment', 'quoted', 'won_job', 'lost_job'];
const WORDS: Record<PipelineStatus, string> = {
  new: 'New',
  contacted: 'Contacted',
  appointment: 'Appointment',
  quoted: 'Quoted',
  won_job: 'Won job',
  lost_job: 'Lost job',
};

export function PipelinePage({ api }: { api: Api }) {
  const board = useAsync(() => ok(api.client.GET('/v1/me/pipeline')), []);
  const [error, setError] = useState<unknown>(null);
  const mark = async (assignmentId: string, status: PipelineStatus, note: string, jobValue: string) => {
    setError(null);
    try {
      await ok(
        api.client.POST('/v1/me/leads/{id}/pipeline', {
          params: { path: { id: assignmentId } },
          body: {
            status,
            ...(note.trim() ? { note: note.trim() } : {}),
            ...(jobValue.trim() ? { jobValue: Number(jobValue) } : {}),
          },
        }),
      );
      toast(`Marked ${WORDS[status].toLowerCase()}`, 'ok');
      await board.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Pipeline</h1>
          <p class="muted">
            What became of the leads you bought. Your agency sees your close rate; it never changes what you paid.
          </p>
        </div>
      </div>
      {board.data ? (
        <div class="pipeline-counts" data-testid="pipeline-counts">
          {STATUSES.map((s) => (
            <div key={s} class={`pipeline-count pipeline-${s}`} data-status={s}>
              <span class="pipeline-n">{num(board.data!.counts[s])}</span>
              <span class="pipeline-label">{WORDS[s]}</span>
            </div>
          ))}
        </div>
      ) : null}
      <ErrorNote error={error ?? board.error} />
      <Panel title="Leads">
        {board.loading && !board.data ? <Loading /> : null}
        {board.data && !board.data.leads.length ? (
          <Empty title="No leads bought yet">Leads you win on Live Leads appear here.</Empty>
        ) : null}
        {board.data?.leads.length ? (
          <div class="table-wrap">
            <table class="table" data-testid="pipeline-table">
              <thead>
                <tr>
                  <th>Lead</th>
                  <th>Bought</th>
                  <th class="num">Price</th>
                  <th>Status</th>
                  <th>Change</th>
                </tr>
              </thead>
              <tbody>
                {board.data.leads.map((l) => (
                  <PipelineRow key={l.assignmentId} item={l} onMark={mark} />
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Panel>
    </div>
  );
}

function PipelineRow({
  item,
  onMark,
}: {
  item: PipelineBoard['leads'][number];
  onMark(id: string, s: PipelineStatus, note: string, jobValue: string): Promise<void>;
}) {
  const [status, setStatus] = useState<PipelineStatus>(item.status);
  const [note, setNote] = useState('');
  const [jobValue, setJobValue] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <tr data-testid="pipeline-row" data-assignment-id={item.assignmentId} data-status={item.status}>
      <td>
        <strong>{item.name}</strong>
        {item.city ? <span class="muted"> · {item.city}</span> : null}
        {item.note ? <div class="muted">{item.note}</div> : null}
      </td>
      <td>{dateTime(item.boughtAt)}</td>
      <td class="num">{num(item.price)}</td>
      <td>
        <span class={`badge badge-${item.status === 'won_job' ? 'ok' : item.status === 'lost_job' ? 'bad' : 'info'}`}>
          {WORDS[item.status]}
        </span>
        {item.jobValue !== null ? <div class="muted">job {num(item.jobValue)}</div> : null}
      </td>
      <td>
        <div class="row">
          <select
            class="input"
            value={status}
            onChange={(e) => setStatus(e.currentTarget.value as PipelineStatus)}
            aria-label="New status"
            data-testid="pipeline-status"
          >
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {WORDS[s]}
              </option>
            ))}
          </select>
          <input
            class="input"
            placeholder="note"
            value={note}
            onInput={(e) => setNote(e.currentTarget.value)}
            aria-label="Note"
          />
          {status === 'won_job' ? (
            <input
              class="input"
              inputMode="numeric"
              placeholder="job value"
              value={jobValue}
              onInput={(e) => setJobValue(e.currentTarget.value)}
              aria-label="Job value"
            />
          ) : null}
          <Button
            size="sm"
            busy={busy}
            onClick={() => {
              setBusy(true);
              void onMark(item.assignmentId, status, note, jobValue).finally(() => setBusy(false));
            }}
            data-testid="pipeline-save"
          >
            Save
          </Button>
        </div>
      </td>
    </tr>
  );
}
