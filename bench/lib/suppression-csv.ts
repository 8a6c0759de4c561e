/**
 * The suppression CSV upload's rate (#23 item 3: "a million numbers in under a
 * minute, constant memory"), shared by `npm run bench:suppression`
 * (bench/suppression-csv.ts, any database) and the harness's `suppression_csv`
 * scenario (bench/scenarios/compliance.ts, the stack's Postgres): N generated
 * US numbers (a header line, every tenth number formatted: "(512) 555-0100")
 * streamed through `loadSuppressionCsv`, or the registry's format through
 * `loadDncFile` into national_dnc; lines per second and the process's peak RSS.
 * A measurement, never a test bound.
 */
import { Readable } from 'node:stream';

import type { Db } from '../../db/connection';
import { loadDncFile, loadSuppressionCsv } from '../../db/suppression';

/** Area codes in service (a sample). */
const AREAS = [
  201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228, 229, 231, 234,
  239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 276, 281, 301, 302, 303, 304, 305, 307, 308, 309,
  310, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 323, 325, 330, 334, 336, 337, 339, 347, 351, 352, 360, 361,
  386, 401, 402, 404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415, 417, 419, 423, 424, 425, 430, 432, 434, 435,
  440, 443, 469, 478, 479, 480, 484, 501, 502, 503, 504, 505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518, 520,
];

/** N distinct US numbers, as a CSV file's bytes (a header, every tenth number formatted), made as read. */
function* numbers(n: number, formatted: boolean): Generator<string> {
  yield formatted ? 'phone\n' : '';
  let chunk = '';
  for (let i = 0; i < n; i++) {
    const area = AREAS[i % AREAS.length]!;
    const rest = Math.floor(i / AREAS.length);
    const exchange = 200 + (rest % 700);
    const line = 1000 + Math.floor(rest / 700);
    chunk += formatted && i % 10 === 0 ? `(${area}) ${exchange}-${line}\n` : `${area}${exchange}${line}\n`;
    if (chunk.length > 64 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

export interface CsvLoadFigures {
  load: string;
  lines: number;
  added: number;
  rejected: number;
  seconds: number;
  linesPerSecond: number;
  peakRssMb: number;
}

/** Streams `lines` numbers into the agency's do_not_contact list (or, `dnc`, the national registry's list). */
export async function measureCsvLoad(
  db: Db,
  opts: { agencyId: string; lines: number; dnc: boolean; progress?: (lines: number) => void },
): Promise<CsvLoadFigures> {
  let peakRss = process.memoryUsage().rss;
  const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const started = performance.now();
  let lastPrint = started;
  const progress = (r: { lines: number }) => {
    if (opts.progress && performance.now() - lastPrint > 5000) {
      lastPrint = performance.now();
      opts.progress(r.lines);
    }
  };
  const file = Readable.from(numbers(opts.lines, !opts.dnc));
  try {
    const report = opts.dnc
      ? await loadDncFile(db, { list: 'national_dnc', state: null }, file, progress)
      : await loadSuppressionCsv(
          db,
          { agencyId: opts.agencyId, list: 'do_not_contact', country: 'US' },
          file,
          progress,
        );
    const seconds = (performance.now() - started) / 1000;
    return {
      load: opts.dnc ? 'national_dnc (registry format)' : 'agency CSV (libphonenumber per line)',
      lines: report.lines,
      added: report.added,
      rejected: report.rejected,
      seconds: Math.round(seconds * 10) / 10,
      linesPerSecond: Math.round(report.lines / seconds),
      peakRssMb: Math.round(peakRss / 1e6),
    };
  } finally {
    clearInterval(sample);
  }
}
