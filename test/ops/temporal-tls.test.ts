/**
 * Temporal over TLS with client certificates required (mTLS), the way a secured cluster or Temporal Cloud
 * runs: the cluster (scripts/temporal-cluster.ts, tools/temporal-server) serves its frontend with a
 * certificate this test makes, and requires a client certificate signed by the same CA. Leadwire's
 * processes reach it through the standard `TEMPORAL_*` variables (temporal/connection.ts, envconfig):
 * only the right settings are let in, and with them a worker process sells a lead end to end.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Connection } from '@temporalio/client';

import type { Database } from '../../db/connection';
import { readConfig } from '../../lib/config';
import { startTemporalCluster, type TemporalCluster, workerPolledSince } from '../../scripts/temporal-cluster';
import { connectTemporal, temporalTargetFromEnv } from '../../temporal/connection';
import { openTestPostgres } from '../helpers/db';
import { waitForLeadStatus } from '../helpers/lifecycle';
import { eventually, startLead } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

jest.setTimeout(8 * 60_000);

const ROOT = path.resolve(__dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-tls-'));
const file = (name: string) => path.join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A self-signed CA with a P-256 key. */
function ca(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
}

/** A P-256 key and a certificate for it, signed by `signer`, with the given X.509 extensions. */
function leaf(name: string, signer: string, extensions: string): void {
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
  );
  fs.writeFileSync(file(`${name}.ext`), extensions);
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${signer}.pem`,
    '-CAkey',
    `${signer}.key`,
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    `${name}.pem`,
    '-extfile',
    `${name}.ext`,
  );
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

let cluster: TemporalCluster;
let database: Database;
const children: ChildProcess[] = [];

beforeAll(async () => {
  ca('ca');
  leaf(
    'frontend',
    'ca',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
  );
  leaf('leadwire', 'ca', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  // A client certificate from another CA: well formed, not trusted by this cluster.
  ca('rogue-ca');
  leaf('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  cluster = await startTemporalCluster({
    log: () => undefined,
    tls: {
      ca: file('ca.pem'),
      serverCert: file('frontend.pem'),
      serverKey: file('frontend.key'),
      clientCert: file('leadwire.pem'),
      clientKey: file('leadwire.key'),
    },
  });
  database = await openTestPostgres();
});

afterAll(async () => {
  // The whole group: tsx runs the worker as its own child, which a signal to tsx alone would leave running.
  for (const c of children) if (c.pid) killGroup(c.pid);
  await cluster?.stop();
  await database?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The environment a deployment would set, over the cluster's address. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { TEMPORAL_ADDRESS: cluster.address, TEMPORAL_NAMESPACE: 'default', ...extra };
}

const RIGHT = () => ({
  TEMPORAL_TLS: 'true',
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem'),
  TEMPORAL_TLS_SERVER_NAME: 'localhost',
  TEMPORAL_TLS_CLIENT_CERT_PATH: file('leadwire.pem'),
  TEMPORAL_TLS_CLIENT_KEY_PATH: file('leadwire.key'),
});

async function refused(vars: Record<string, string>): Promise<void> {
  const target = temporalTargetFromEnv(env(vars))!;
  await expect(connectTemporal(target, 0)).rejects.toThrow();
}

test('a plain connection to the TLS frontend is refused', async () => {
  await refused({});
});

test('TLS without a client certificate is refused: the cluster requires one (mTLS)', async () => {
  const { TEMPORAL_TLS_CLIENT_CERT_PATH: _c, TEMPORAL_TLS_CLIENT_KEY_PATH: _k, ...noClientCert } = RIGHT();
  await refused(noClientCert);
});

test('a client certificate from another CA is refused', async () => {
  await refused({
    ...RIGHT(),
    TEMPORAL_TLS_CLIENT_CERT_PATH: file('rogue.pem'),
    TEMPORAL_TLS_CLIENT_KEY_PATH: file('rogue.key'),
  });
});

test("the frontend's certificate is verified: without its CA (the system's roots) the connection is refused", async () => {
  const { TEMPORAL_TLS_SERVER_CA_CERT_PATH: _ca, ...noCa } = RIGHT();
  await refused(noCa);
});

test('with the right settings the client connects, from paths or from inline PEM data', async () => {
  const client = await connectTemporal(temporalTargetFromEnv(env(RIGHT()))!, 0);
  await client.workflowService.describeNamespace({ namespace: 'default' });
  await client.connection.close();
  const inline = await connectTemporal(
    temporalTargetFromEnv(
      env({
        TEMPORAL_TLS: 'true',
        TEMPORAL_TLS_SERVER_NAME: 'localhost',
        TEMPORAL_TLS_SERVER_CA_CERT_DATA: fs.readFileSync(file('ca.pem'), 'utf8'),
        TEMPORAL_TLS_CLIENT_CERT_DATA: fs.readFileSync(file('leadwire.pem'), 'utf8'),
        TEMPORAL_TLS_CLIENT_KEY_DATA: fs.readFileSync(file('leadwire.key'), 'utf8'),
      }),
    )!,
    0,
  );
  await inline.workflowService.describeNamespace({ namespace: 'default' });
  await inline.connection.close();
});

function startWorkerProcess(
  vars: Record<string, string>,
  taskQueue: string,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = '';
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'bin/worker.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...env(vars),
      DATABASE_URL: process.env.TEST_DATABASE_URL!,
      // The run's master key: the worker shares the run's database, whose secrets are sealed with it.
      LEADWIRE_MASTER_KEYS: process.env.LEADWIRE_MASTER_KEYS!,
      LW_TASK_QUEUE: taskQueue,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so the test can stop tsx and the worker it runs together
  });
  children.push(child);
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

test('a worker process without a client certificate stops with an error; with the right settings it polls and sells a lead', async () => {
  const { TEMPORAL_TLS_CLIENT_CERT_PATH: _c, TEMPORAL_TLS_CLIENT_KEY_PATH: _k, ...noClientCert } = RIGHT();
  const wrong = startWorkerProcess(noClientCert, `tls-wrong-${Date.now()}`);
  expect(await wrong.exited).not.toBe(0);
  expect(wrong.output()).toMatch(/TransportError/); // refused at the TLS handshake, not some other failure

  const taskQueue = `tls-${Date.now()}`;
  const since = Date.now();
  const worker = startWorkerProcess(RIGHT(), taskQueue);
  const probe = await Connection.connect({ address: cluster.address, tls: cluster.target.tls });
  try {
    await eventually(
      async () => (await workerPolledSince(probe, taskQueue, since)) || undefined,
      90_000,
      `the worker polls ${taskQueue}`,
    );
    await eventually(
      async () => /Leadwire worker polling/.test(worker.output()) || undefined,
      30_000,
      'the worker logs that it polls',
    );
    expect(worker.output()).toContain('TLS with a client certificate');
    // A lead routed through the TLS cluster by that worker: a push campaign sells it to its one buyer.
    const db = database.db;
    const agency = await makeAgency(db);
    await makeBuyer(db, agency.id, { credits: 100 });
    const campaign = await makeCampaign(db, agency.id, { mode: 'push' });
    const lead = await makeLead(db, agency.id, campaign.id);
    const client = await connectTemporal(cluster.target, 0);
    try {
      await startLead(client, taskQueue, lead);
      await waitForLeadStatus(db, lead.id, 'sold', 60_000);
    } finally {
      await client.connection.close();
    }
  } finally {
    await probe.close();
    killGroup(worker.child.pid!);
  }
});

/** The `sh` blocks of docs/operations.md's Temporal Cloud section, as environments. */
function documentedEnvironments(): Record<string, string>[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Temporal Cloud and TLS'), doc.indexOf('## Deploy with docker compose'));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map(
    (m) =>
      Object.fromEntries(
        m[1]!
          .trim()
          .split('\n')
          .map((line) => line.split(/=(.*)/s).slice(0, 2)),
      ) as Record<string, string>,
  );
}

test("docs/operations.md's Temporal Cloud settings are what the processes read", () => {
  const [apiKey, mtls] = documentedEnvironments();
  expect(readConfig(apiKey!).TEMPORAL_API_KEY).toBe("<the namespace's API key>");
  expect(temporalTargetFromEnv(apiKey!)).toEqual({
    address: 'us-east-1.aws.api.temporal.io:7233',
    namespace: 'leadwire-prod.a1b2c',
    apiKey: "<the namespace's API key>",
    tls: true,
  });
  // The certificate paths of the example, pointed at this test's client certificate.
  const withFiles = {
    ...mtls!,
    TEMPORAL_TLS_CLIENT_CERT_PATH: file('leadwire.pem'),
    TEMPORAL_TLS_CLIENT_KEY_PATH: file('leadwire.key'),
  };
  expect(() => readConfig(withFiles)).not.toThrow();
  const target = temporalTargetFromEnv(withFiles)!;
  expect(target.address).toBe('leadwire-prod.a1b2c.tmprl.cloud:7233');
  const tls = target.tls as { clientCertPair?: { crt: Uint8Array } };
  expect(Buffer.from(tls.clientCertPair!.crt).equals(fs.readFileSync(file('leadwire.pem')))).toBe(true);
  // A path that is not there is named at start, before anything connects.
  expect(() => readConfig(mtls!)).toThrow(
    'TEMPORAL_TLS_CLIENT_CERT_PATH="/run/secrets/temporal-client.pem": expected the path of a readable file',
  );
});
