/**
 * A TCP proxy between the product's processes and Postgres, in the test
 * process, so a test can take "the database" away without touching the
 * machine's Postgres cluster (other tests use it):
 *
 * - `cut()` destroys every open connection and stops listening, so new
 *   connections are refused (ECONNREFUSED) until `restore()`;
 * - `stall()` keeps the connections open but forwards nothing (a database
 *   that hangs), until `resume()` delivers what was held back.
 */
import net from 'node:net';

export interface PgProxy {
  port: number;
  /** A copy of `url` that goes through the proxy. */
  urlFor(url: string): string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  stall(): void;
  resume(): void;
  /** Connections accepted, and connections destroyed by cut(). */
  readonly stats: { connections: number; dropped: number };
  close(): Promise<void>;
}

export async function startPgProxy(target: { host: string; port: number }, port = 0): Promise<PgProxy> {
  const open = new Set<net.Socket>();
  const stats = { connections: 0, dropped: 0 };
  let stalled = false;
  const held: (() => void)[] = [];
  let server: net.Server | null = null;

  const pipe = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk) => {
      const forward = () => {
        if (!to.destroyed) to.write(chunk);
      };
      if (stalled) held.push(forward);
      else forward();
    });
  };

  const onConnection = (client: net.Socket) => {
    stats.connections++;
    const upstream = net.connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    pipe(client, upstream);
    pipe(upstream, client);
  };

  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const s = net.createServer(onConnection);
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => {
        server = s;
        resolve((s.address() as net.AddressInfo).port);
      });
    });

  const stopListening = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = null;
      if (!s) return resolve();
      s.close(() => resolve());
    });

  const boundPort = await listen(port);

  return {
    port: boundPort,
    stats,
    urlFor(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(boundPort);
      return u.toString();
    },
    async cut() {
      const closing = stopListening();
      for (const s of [...open]) {
        s.destroy();
        stats.dropped++;
      }
      open.clear();
      held.length = 0;
      await closing;
    },
    async restore() {
      if (server) return;
      // The port was ours a moment ago; retry briefly in case the kernel has not let go of it yet.
      for (let attempt = 0; ; attempt++) {
        try {
          await listen(boundPort);
          return;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const forward of held.splice(0)) forward();
    },
    async close() {
      await stopListening();
      for (const s of open) s.destroy();
      open.clear();
    },
  };
}
