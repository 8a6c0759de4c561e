/**
 * CSV downloads for the export buttons. The exports need the key in the
 * Authorization header (never in a URL), so a plain link cannot fetch them:
 * the page reads the streamed CSV through the API client and hands it to the
 * browser as a file with the name the server gave it (Content-Disposition).
 */
import { toApiError, type Api } from './api';

/** `/v1/exports/leads.csv` with the set filters of `query` (empty values left out). */
export function exportPath(name: string, query: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => !!e[1]));
  const s = q.toString();
  return `/v1/exports/${name}${s ? `?${s}` : ''}`;
}

export async function downloadCsv(api: Api, path: string, fileName: string): Promise<void> {
  const { status, body } = await api.raw<unknown>('GET', path);
  if (status < 200 || status >= 300) throw toApiError(status, body);
  // The client parses what looks like JSON; a CSV (a header row with commas) stays text.
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
