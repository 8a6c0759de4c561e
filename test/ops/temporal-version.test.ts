/**
 * One Temporal server version in the three ways Leadwire runs Temporal (#25 item 3): the CLI's dev server
 * (`temporal server start-dev`, built with `go install` at a tag), the cluster program
 * (tools/temporal-server, `go.temporal.io/server` in its go.mod) and docker compose (the official images).
 * The CLI can only be built at a tag, so its embedded server sets the version; the other two follow it
 * (docs/operations.md "One Temporal server version").
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { parse } from 'yaml';

import { ensureTemporalCli } from '../../temporal/dev-server';

const ROOT = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

/** The default of a `${VAR:-default}` image tag in docker-compose.yml. */
function composeTag(service: string): string {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { image: string }> };
  const image = compose.services[service]!.image;
  const m = /:\$\{[A-Z_]+:-([^}]+)\}$/.exec(image);
  if (!m) throw new Error(`${service}'s image ${image} has no overridable tag with a default`);
  return m[1]!;
}

const clusterServer = (): string => {
  const m = /^require go\.temporal\.io\/server v(\S+)$/m.exec(read('tools/temporal-server/go.mod'));
  if (!m) throw new Error('tools/temporal-server/go.mod requires no go.temporal.io/server');
  return m[1]!;
};

test('the cluster program and the compose images run the same Temporal server version', () => {
  const version = clusterServer();
  expect(composeTag('temporal')).toBe(version);
  // The admin-tools images are tagged <server>-tctl-<tctl>-cli-<cli>: the schema tool must be the server's own.
  expect(composeTag('temporal-schema')).toMatch(new RegExp(`^${version.replace(/\./g, '\\.')}(-|$)`));
  expect(composeTag('temporal-register')).toBe(composeTag('temporal-schema'));
});

test('the dev server the CLI embeds is that version too', async () => {
  const cli = await ensureTemporalCli();
  // e.g. "temporal version 1.5.1 (Server 1.29.1, UI 2.41.0)"
  const out = execFileSync(cli, ['--version'], { encoding: 'utf8' });
  const m = /Server (\d+\.\d+\.\d+)/.exec(out);
  expect(m).not.toBeNull();
  expect(m![1]).toBe(clusterServer());
}, 120_000);
