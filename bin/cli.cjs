#!/usr/bin/env node
/**
 * `npx leadwire <command> [flags]`: one entry to every command, the package's `leadwire` bin. In a
 * development checkout it runs the TypeScript sources through tsx (what `npm run <command>` runs); in the
 * production image (no sources, no tsx) the compiled JavaScript `npm run build` made in dist/. Each
 * command has its own `--help`.
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** command → [the module (without extension), what it does, arguments it always gets] */
const COMMANDS = {
  start: ['bin/leadwire', 'the whole product in one process (npm start)'],
  api: ['bin/api', 'the HTTP API and live feed'],
  worker: ['bin/worker', 'the Temporal worker'],
  migrate: ['bin/migrate', 'apply the SQL migrations'],
  config: ['bin/config', 'print the effective configuration, secrets masked'],
  audit: ['ops/audit', 'check every money and lifecycle invariant'],
  reconcile: ['ops/reconcile', 'credit card payments whose Stripe webhook was lost'],
  replay: ['ops/replay', "replay a lead's workflow histories, print its timeline"],
  keys: ['ops/keys', 'generate a master key, or rotate every secret to the current one'],
  soak: ['ops/soak', 'run the stack under steady traffic and watch its memory'],
  nemesis: ['ops/nemesis', 'the randomized fault campaign'],
  bench: ['bench/run', 'the benchmark (development checkout only)'],
};

const WIDTH = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 1;

const HELP = `Usage: npx leadwire <command> [flags]      (npx leadwire <command> --help for its flags)

Commands:
${Object.entries(COMMANDS)
  .map(([name, [, what]]) => `  ${name.padEnd(WIDTH)} ${what}`)
  .join('\n')}`;

function main(argv) {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    console.log(HELP);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    console.error(`Unknown command '${command}'\n\n${HELP}`);
    return 2;
  }
  const source = path.join(ROOT, `${entry[0]}.ts`);
  const compiled = path.join(ROOT, 'dist', `${entry[0]}.js`);
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  let cmd;
  if (fs.existsSync(source) && fs.existsSync(tsx)) cmd = [tsx, source];
  else if (fs.existsSync(compiled)) cmd = [process.execPath, compiled];
  else {
    console.error(`leadwire ${command}: neither ${entry[0]}.ts with tsx nor dist/${entry[0]}.js (npm run build) is here`);
    return 2;
  }
  const child = spawn(cmd[0], [...cmd.slice(1), ...args], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
  return null;
}

const code = main(process.argv.slice(2));
if (code !== null) process.exitCode = code;
