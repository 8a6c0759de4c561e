/**
 * CSV downloads for the export buttons. The exports need the key in the
 * Authorization header (never in a URL), so a plain link cannot fetch them:
 * the page reads the streamed CSV through the typed client (`parseAs: 'text'`)
 * and hands it to the browser as a file with the name the page gives it.
 */
import { ok, type TypedAnswer } from './api';

export async function downloadCsv(call: Promise<TypedAnswer<string>>, fileName: string): Promise<void> {
  const text = await ok(call);
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
