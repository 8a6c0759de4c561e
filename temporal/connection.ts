/**
 * Where and how Leadwire's processes reach Temporal, the way Temporal's own tools do: through
 * `@temporalio/envconfig`, so the `TEMPORAL_*` variables (address, namespace, TLS and mTLS client
 * certificates, API key, gRPC metadata) and the profiles of a `temporal.toml` file (TEMPORAL_CONFIG_FILE,
 * TEMPORAL_PROFILE) mean here what they mean for the `temporal` CLI and every SDK. Temporal Cloud is
 * an address, a namespace and an API key or a client certificate (docs/operations.md).
 */
import { Client, Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { loadClientConnectConfig } from '@temporalio/envconfig';

import { temporalTracingPlugins } from '../observability/tracing';

/** One Temporal frontend and namespace, with what it takes to be let in. */
export interface TemporalTarget {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  /** `true`: TLS with the system's roots; an object: a CA, a server name, a client certificate (mTLS). */
  tls?: TLSConfig | boolean;
  /** Temporal Cloud API key (sent as a bearer token; implies TLS). */
  apiKey?: string;
  metadata?: Record<string, string>;
}

/** The target the environment (and its Temporal profile) names; null when it names no address. */
export function temporalTargetFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalTarget | null {
  const vars = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''),
  );
  // A profile file is read only when the environment names one (TEMPORAL_CONFIG_FILE or TEMPORAL_PROFILE): a
  // developer's own ~/.config/temporalio/temporal.toml (say, a Cloud namespace) must not redirect `npm start`.
  const disableFile = !vars.TEMPORAL_CONFIG_FILE && !vars.TEMPORAL_PROFILE;
  const { connectionOptions: c, namespace } = loadClientConnectConfig({ overrideEnvVars: vars, disableFile });
  if (!c.address) return null;
  return {
    address: c.address,
    namespace: namespace || 'default',
    ...(c.tls !== undefined && c.tls !== null ? { tls: c.tls } : {}),
    ...(c.apiKey ? { apiKey: c.apiKey } : {}),
    ...(c.metadata && Object.keys(c.metadata).length ? { metadata: c.metadata as Record<string, string> } : {}),
  };
}

/** The target for a plain address (the dev server, tests). */
export function plainTarget(address: string, namespace = 'default'): TemporalTarget {
  return { address, namespace };
}

/** The connection options a client or worker connection takes for this target. */
export function connectionOptions(
  target: TemporalTarget,
): Pick<TemporalTarget, 'address' | 'tls' | 'apiKey' | 'metadata'> {
  return {
    address: target.address,
    ...(target.tls !== undefined ? { tls: target.tls } : {}),
    ...(target.apiKey ? { apiKey: target.apiKey } : {}),
    ...(target.metadata ? { metadata: target.metadata } : {}),
  };
}

/** How the target is reached, for logs: never a key or a certificate. */
export function describeTarget(target: TemporalTarget): string {
  const tls = target.tls;
  const how =
    tls === undefined || tls === false
      ? 'plain'
      : tls === true
        ? 'TLS'
        : `TLS${tls.clientCertPair ? ' with a client certificate' : ''}${tls.serverRootCACertificate ? ', own CA' : ''}`;
  return `${target.address} namespace ${target.namespace} (${how}${target.apiKey ? ', API key' : ''})`;
}

/**
 * A client of the target. Retries for `timeoutMs` (a deployment's server may still be starting); 0 tries
 * once, so wrong credentials fail at once.
 */
export async function connectTemporal(target: TemporalTarget, timeoutMs = 60_000): Promise<Client> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ ...connectionOptions(target), connectTimeout: 5_000 });
      // Connecting is lazy about authorization: ask the namespace, so a refused certificate or key fails here.
      await connection
        .withDeadline(Date.now() + 5_000, () =>
          connection.workflowService.describeNamespace({ namespace: target.namespace }),
        )
        .catch(async (err: unknown) => {
          await connection.close().catch(() => undefined);
          throw err;
        });
      return new Client({ connection, namespace: target.namespace, plugins: temporalTracingPlugins() });
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
