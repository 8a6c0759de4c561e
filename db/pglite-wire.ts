/**
 * The embedded PGlite database served over the PostgreSQL wire protocol while
 * `npm start` runs, so `npm run audit`, `npm run replay`, psql and Drizzle
 * Studio reach the live data – PGlite itself opens in one process only.
 *
 * Why not `@electric-sql/pglite-socket`: its releases pin an exact older
 * PGlite (0.2.17 wants 0.5.14; this project has 0.5.16, and npm refuses the
 * mix) and it holds PGlite's lock for a client's whole connection, so an open
 * psql or Drizzle Studio would stall the running stack. This server does what
 * it does – hands the client's protocol bytes to `execProtocolRaw` – but
 * takes PGlite's locks per statement: from a batch of messages until the
 * ReadyForQuery that says the session is idle again. A client's open
 * transaction therefore holds the app off until it ends (its statements never
 * interleave with the app's transactions, nor the app's with its), and a
 * client that disconnects mid-transaction is rolled back.
 *
 * Limits (documented in docs/operations.md): one backend session is shared,
 * so session settings (`SET …`) a client makes are seen by the app until it
 * resets them; no TLS and no password: it listens on 127.0.0.1 only.
 */
import net from 'node:net';

import type { PGlite } from '@electric-sql/pglite';

export interface WireServer {
  host: string;
  port: number;
  /** A connection string for pg, psql and Drizzle (`postgres://postgres@127.0.0.1:<port>/postgres`). */
  url: string;
  connections(): number;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** The status byte of the last ReadyForQuery ('Z') in a backend answer: I idle, T in a transaction, E failed one; null if none. */
export function lastReadyStatus(answer: Uint8Array): string | null {
  let status: string | null = null;
  let i = 0;
  while (i + 5 <= answer.length) {
    const type = answer[i]!;
    const len = ((answer[i + 1]! << 24) | (answer[i + 2]! << 16) | (answer[i + 3]! << 8) | answer[i + 4]!) >>> 0;
    if (type === 0x5a && len === 5 && i + 5 < answer.length) status = String.fromCharCode(answer[i + 5]!);
    i += 1 + len;
  }
  return status;
}

function simpleQuery(sql: string): Uint8Array {
  const body = Buffer.from(`${sql}\0`, 'utf8');
  const msg = Buffer.alloc(5 + body.length);
  msg.write('Q', 0, 'ascii');
  msg.writeInt32BE(4 + body.length, 1);
  body.copy(msg, 5);
  return msg;
}

export async function servePglite(db: PGlite, opts: { port?: number; host?: string } = {}): Promise<WireServer> {
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();

  /** Both of PGlite's locks (its transactions' and its queries'), held until `release()`. */
  const acquire = () =>
    new Promise<() => void>((resolve) => {
      void db._runExclusiveTransaction(() =>
        db._runExclusiveQuery(() => new Promise<void>((release) => resolve(release))),
      );
    });

  const serve = (socket: net.Socket): void => {
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    let started = false;
    let release: (() => void) | null = null;
    let inTransaction = false;
    let ended = false;
    let chain: Promise<void> = Promise.resolve();

    const run = async (batch: Buffer): Promise<void> => {
      release ??= await acquire();
      try {
        const answer = await db.execProtocolRaw(new Uint8Array(batch));
        if (answer.length && !socket.destroyed) socket.write(Buffer.from(answer));
        const status = lastReadyStatus(answer);
        if (status !== null) inTransaction = status !== 'I';
        if (status === 'I') {
          release();
          release = null;
        }
      } catch (err) {
        socket.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    };

    const finish = async (): Promise<void> => {
      if (!release) return;
      if (inTransaction) await db.execProtocolRaw(simpleQuery('ROLLBACK')).catch(() => undefined);
      release();
      release = null;
      inTransaction = false;
    };

    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const batch: Buffer[] = [];
      for (;;) {
        if (!started) {
          if (buffered.length < 8) break;
          const len = buffered.readInt32BE(0);
          if (buffered.length < len) break;
          const code = buffered.readInt32BE(4);
          const message = buffered.subarray(0, len);
          buffered = buffered.subarray(len);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            socket.write('N'); // no TLS: the client goes on in plain text (local only)
            continue;
          }
          if (code === CANCEL_REQUEST) {
            socket.end();
            return;
          }
          started = true;
          batch.push(message);
          continue;
        }
        if (buffered.length < 5) break;
        const total = 1 + buffered.readInt32BE(1);
        if (buffered.length < total) break;
        const message = buffered.subarray(0, total);
        buffered = buffered.subarray(total);
        if (message[0] === 0x58) {
          // Terminate: the shared backend stays; only this client goes.
          ended = true;
          break;
        }
        batch.push(message);
      }
      if (batch.length) {
        const bytes = Buffer.concat(batch);
        chain = chain.then(() => run(bytes));
      }
      if (ended) chain = chain.then(finish).then(() => void socket.end());
    };

    socket.on('data', onData);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      chain = chain.then(finish);
    });
  };

  const server = net.createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    host,
    port,
    url: `postgres://postgres@${host}:${port}/postgres`,
    connections: () => sockets.size,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
