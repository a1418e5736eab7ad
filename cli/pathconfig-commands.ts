/**
 * `alluxio pathconfig show|edit|set|unset|resolve`: the path-level write policies the
 * coordinator keeps (seed 004). Documents are validated here first (same rules as the
 * coordinator, common/path-config.ts), so a bad edit is refused before anything is sent;
 * changes are compare-and-set on the version that was read, so two editors never silently
 * overwrite each other.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Argv } from 'yargs';
import type { Config } from '../common/config/config.js';
import {
  parsePathConfig,
  PathConfigError,
  serializePathConfig,
  setRule,
  unsetRule,
  type PathConfig,
} from '../common/path-config.js';
import { PathConfigService, type ListWorkersResponse, type PathConfigDocument, type ResolvedPolicy } from '../proto/index.js';
import { callCoordinator, CliError, configFrom, type GlobalArgs } from './common.js';

/** One unary call to the coordinator's PathConfig service. */
function callPathConfig<Res>(config: Config, method: string, req: object): Promise<Res> {
  return callCoordinator<Res>(config, method, req, PathConfigService);
}

function invalid(err: unknown): never {
  if (err instanceof PathConfigError) throw new CliError(`invalid path config: ${err.message}`);
  throw err;
}

/**
 * Waits (up to 10 s) until every live worker has applied the change, so the next request
 * already sees the new policy. A worker that reports `pathConfigVersion` on /_alluxio/health is
 * compared on it, otherwise on the cluster version.
 */
async function waitForWorkers(config: Config, pathConfigVersion: number): Promise<void> {
  const { cluster_version: version, workers } = await callCoordinator<ListWorkersResponse>(config, 'ListWorkers', {});
  const deadline = Date.now() + 10_000;
  const lagging = workers.filter((w) => w.state === 'LIVE');
  while (lagging.length > 0 && Date.now() < deadline) {
    const w = lagging[0];
    const applied = await fetch(`http://${w.address.host}:${w.address.s3_port}/_alluxio/health`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.json() as Promise<{ version?: number; pathConfigVersion?: number }>)
      .then(
        (h) => (typeof h.pathConfigVersion === 'number' ? h.pathConfigVersion >= pathConfigVersion : (h.version ?? -1) >= version),
        () => false,
      );
    if (applied) lagging.shift();
    else await new Promise((r) => setTimeout(r, 50));
  }
  if (lagging.length > 0) process.stderr.write(`alluxio: warning: ${lagging.map((w) => w.id).join(', ')} has not applied the change yet\n`);
}

/** Read, change, write back on the version read; retried when another change got in between. */
async function update(config: Config, change: (current: PathConfig) => PathConfig): Promise<PathConfigDocument | null> {
  for (let attempt = 0; ; attempt++) {
    const current = await callPathConfig<PathConfigDocument>(config, 'GetPathConfig', {});
    let next: PathConfig;
    try {
      next = change(parsePathConfig(current.json));
    } catch (err) {
      if (err instanceof PathConfigError) throw new CliError(err.message);
      throw err;
    }
    const json = serializePathConfig(next);
    if (json === current.json) return null;
    try {
      return await callPathConfig<PathConfigDocument>(config, 'SetPathConfig', { json, version: current.version });
    } catch (err) {
      if (attempt < 4 && err instanceof CliError && /changed since version/.test(err.message)) continue;
      throw err;
    }
  }
}

/** `$VISUAL`, `$EDITOR` or vi, through the shell like git does (the variable may hold arguments). */
function runEditor(file: string): Promise<void> {
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  return new Promise((resolve, reject) => {
    const p = spawn('/bin/sh', ['-c', `${editor} "$@"`, editor, file], { stdio: 'inherit' });
    p.on('error', (err) => reject(new CliError(`cannot run the editor (${editor}): ${err.message}`)));
    p.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new CliError(`the editor (${editor}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; the path config is unchanged`));
    });
  });
}

async function edit(config: Config): Promise<void> {
  const current = await callPathConfig<PathConfigDocument>(config, 'GetPathConfig', {});
  const dir = await mkdtemp(path.join(os.tmpdir(), 'alluxio-pathconfig-'));
  const file = path.join(dir, 'pathconfig.json');
  let text: string;
  try {
    await writeFile(file, current.json, { mode: 0o600 });
    await runEditor(file);
    text = await readFile(file, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (text === current.json) {
    console.log('no changes');
    return;
  }
  let next: PathConfig;
  try {
    next = parsePathConfig(text);
  } catch (err) {
    invalid(err);
  }
  if (serializePathConfig(next) === current.json) {
    console.log('no changes');
    return;
  }
  let res: PathConfigDocument;
  try {
    res = await callPathConfig<PathConfigDocument>(config, 'SetPathConfig', { json: text, version: current.version });
  } catch (err) {
    if (err instanceof CliError && /changed since version/.test(err.message)) {
      throw new CliError(`the path config changed while you were editing it (someone else saved a new version); your edit was not applied, run edit again`);
    }
    throw err;
  }
  await waitForWorkers(config, res.version);
  console.log(`path config updated (version ${res.version})`);
}

export function pathConfigCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command('show', 'Print the path-level write policy document', (a) => a, async (args) => {
      const res = await callPathConfig<PathConfigDocument>(configFrom(args), 'GetPathConfig', {});
      process.stdout.write(res.json.endsWith('\n') ? res.json : `${res.json}\n`);
    })
    .command('edit', 'Edit the document in $VISUAL or $EDITOR (default vi); applied when the editor exits, refused whole if invalid', (a) => a, async (args) => {
      await edit(configFrom(args));
    })
    .command('set <path>', 'Set the write policy of PATH ("/" is the default)', (a) => a
      .positional('path', { type: 'string', demandOption: true, describe: 'a path prefix, e.g. /ckpt (matches /ckpt and /ckpt/…)' })
      .option('policy', { type: 'string', demandOption: true, describe: 'WRITE_THROUGH, WRITE_BACK, TRANSIENT, READ_ONLY or NO_CACHE' })
      .option('replicas', { type: 'number', describe: 'writeReplicas: copies of unpersisted data (WRITE_BACK, TRANSIENT); kept when omitted' }), async (args) => {
      const config = configFrom(args);
      const mode = args.policy.toUpperCase();
      const res = await update(config, (c) => setRule(c, args.path, mode, args.replicas));
      const resolved = JSON.parse((await callPathConfig<ResolvedPolicy>(config, 'ResolvePath', { path: args.path })).json) as { path: string; policyMode: string; writeReplicas: number };
      const what = `${resolved.path} → ${resolved.policyMode} (writeReplicas ${resolved.writeReplicas})`;
      if (!res) {
        console.log(`${what}: no changes`);
        return;
      }
      await waitForWorkers(config, res.version);
      console.log(`${what}; path config version ${res.version}`);
    })
    .command('unset <path>', 'Remove the rule for PATH (for "/": reset the default to WRITE_THROUGH)', (a) => a
      .positional('path', { type: 'string', demandOption: true }), async (args) => {
      const config = configFrom(args);
      const res = await update(config, (c) => unsetRule(c, args.path));
      if (!res) {
        console.log('no changes');
        return;
      }
      await waitForWorkers(config, res.version);
      console.log(`removed the rule for ${args.path}; path config version ${res.version}`);
    })
    .command('resolve <path>', 'Print the policy that applies to PATH (JSON)', (a) => a
      .positional('path', { type: 'string', demandOption: true, describe: 'e.g. /ckpt/model.bin' }), async (args) => {
      const res = await callPathConfig<ResolvedPolicy>(configFrom(args), 'ResolvePath', { path: args.path });
      console.log(JSON.stringify(JSON.parse(res.json), null, 2));
    })
    .demandCommand(1, 'name a pathconfig command: show, edit, set, unset or resolve');
}
