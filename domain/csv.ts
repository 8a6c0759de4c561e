/**
 * RFC 4180 CSV: fields separated by commas, records by CRLF; a field holding
 * a comma, a double quote, CR or LF is enclosed in double quotes with its
 * quotes doubled, so a file round-trips through any RFC 4180 reader.
 *
 * Every CSV the product writes goes through csvRecord, and a cell's type says
 * who typed it (#27.3, formula injection):
 * - a number (a price, an amount, a count) is written as it is: `-25` stays
 *   a number a spreadsheet can sum;
 * - an E164Phone (`+15125550100`), made only by e164Phone() from a value that
 *   is exactly E.164, is written as it is, so CRM imports keep the number;
 * - a boolean, a Date (ISO-8601) or null/undefined (an empty cell) is the
 *   product's own;
 * - a string is text, whoever typed it (a lead's name, a sub-id, a campaign's
 *   name, a reference), and an object is written as its JSON text. Text that
 *   begins with `=`, `+`, `-`, `@`, a tab or a carriage return, which a
 *   spreadsheet would run as a formula, is neutralised the way OWASP
 *   recommends: a single quote before it, and the field in double quotes
 *   (`=HYPERLINK(…)` is written `"'=HYPERLINK(…)"` and shown as text).
 */

/** A phone number the product validated as E.164; make one with e164Phone(). */
export class E164Phone {
  private constructor(readonly value: string) {}

  /** The number as E164Phone when it is exactly E.164; anything else is text (and neutralised like text). */
  static of(raw: unknown): E164Phone | string | null {
    if (raw === null || raw === undefined) return null;
    const s = String(raw);
    return E164.test(s) ? new E164Phone(s) : s;
  }
}

/** `+`, a country code that does not start with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{6,14}$/;

export const e164Phone = (raw: unknown): E164Phone | string | null => E164Phone.of(raw);

export type CsvValue = string | number | boolean | Date | E164Phone | null | undefined | Record<string, unknown>;

/** The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection"). */
const FORMULA_TRIGGER = /^[=+\-@\t\r]/;

function quoted(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function textField(s: string): string {
  if (FORMULA_TRIGGER.test(s)) return quoted(`'${s}`);
  return /[",\r\n]/.test(s) ? quoted(s) : s;
}

function csvField(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof E164Phone) return v.value;
  return textField(typeof v === 'object' ? JSON.stringify(v) : v);
}

export function csvRecord(values: readonly CsvValue[]): string {
  return values.map(csvField).join(',') + '\r\n';
}

/** Parses RFC 4180 text into records (used by tests and tools; streaming writers never need it). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || record.length) {
    record.push(field);
    records.push(record);
  }
  return records;
}
