/**
 * The wire server's reading of PGlite's answers (db/pglite-wire.ts): the
 * transaction status of the last ReadyForQuery decides when PGlite's lock is
 * given back – idle releases it, in a transaction keeps it.
 */
import { lastReadyStatus } from '../../db/pglite-wire';

const msg = (type: string, body: number[]) => [type.charCodeAt(0), 0, 0, 0, 4 + body.length, ...body];

test('the status byte of the last ReadyForQuery, skipping the other messages', () => {
  const commandComplete = msg('C', [...Buffer.from('SELECT 1\0')]);
  expect(lastReadyStatus(Uint8Array.from([...commandComplete, ...msg('Z', ['I'.charCodeAt(0)])]))).toBe('I');
  expect(
    lastReadyStatus(
      Uint8Array.from([...msg('Z', ['I'.charCodeAt(0)]), ...commandComplete, ...msg('Z', ['T'.charCodeAt(0)])]),
    ),
  ).toBe('T');
  expect(lastReadyStatus(Uint8Array.from([...msg('Z', ['E'.charCodeAt(0)])]))).toBe('E');
  expect(lastReadyStatus(Uint8Array.from(commandComplete))).toBeNull(); // no Sync yet: the lock stays
  expect(lastReadyStatus(new Uint8Array())).toBeNull();
});
