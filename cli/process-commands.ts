/**
 * Commands that run servers in the foreground: `alluxio coordinator`, `alluxio worker` and
 * `alluxio cluster start` (a coordinator and N workers as child processes, stopped together on
 * Ctrl-C or SIGTERM).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../common/config/config.js';
import { createLogger } from '../common/log.js';
import { startCoordinator } from '../coordinator/main.js';
import { startWorker } from '../worker/main.js';
import { callCoordinator, CliError, configFrom, type GlobalArgs } from './common.js';

const BIN = fileURLToPath(new URL('../../bin/alluxio', import.meta.url));

/**
 * Resolves when the process is asked to stop: SIGINT/SIGTERM, or, for a process that
 * `cluster start` spawned, the loss of its parent (the IPC channel closes even when the parent
 * is SIGKILLed, so no orphan keeps holding the ports).
 */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => resolve(sig);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
    if (process.connected) process.once('disconnect', () => resolve('parent exited'));
  });
}

async function runUntilStopped(name: string, start: (config: Config, log: ReturnType<typeof createLogger>) => Promise<{ close(): Promise<void>; decommissioned?: Promise<void> }>, args: GlobalArgs): Promise<void> {
  const config = configFrom(args);
  const log = createLogger(name, config.string('alluxio.log.level'));
  const handle = await start(config, log);
  // A decommissioned worker stops cleanly (exit 0): started again, it joins as a new member.
  const sig = await Promise.race([stopSignal(), ...(handle.decommissioned ? [handle.decommissioned.then(() => 'decommissioned')] : [])]);
  log.info({ signal: sig }, 'stopping');
  await handle.close();
}

export const runCoordinator = (args: GlobalArgs) => runUntilStopped('coordinator', startCoordinator, args);
export const runWorker = (args: GlobalArgs) => runUntilStopped('worker', startWorker, args);

interface Child {
  name: string;
  proc: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

async function lastLogMessage(file: string): Promise<string> {
  try {
    const lines = (await fs.readFile(file, 'utf8')).trim().split('\n').reverse();
    for (const l of lines) {
      try {
        const rec = JSON.parse(l) as { msg?: string; err?: { message?: string } };
        if (rec.err?.message) return `${rec.msg}: ${rec.err.message}`;
        if (rec.msg) return rec.msg;
      } catch {
        if (l.trim()) return l.trim();
      }
    }
  } catch {
    // no log
  }
  return 'no log output';
}

export async function clusterStart(args: GlobalArgs & { workers: number; 'data-dir'?: string }): Promise<void> {
  if (!Number.isInteger(args.workers) || args.workers < 1 || args.workers > 64) throw new CliError('--workers must be between 1 and 64');
  const dataOverride = args['data-dir'] ? [`alluxio.data.dir=${path.resolve(args['data-dir'])}`] : [];
  const base = configFrom(args, dataOverride);
  const dataDir = base.dataDir();
  const logDir = path.join(dataDir, 'logs');
  await fs.mkdir(logDir, { recursive: true });
  const common = [...(args.conf ?? []), `alluxio.data.dir=${dataDir}`];
  const s3Base = base.int('alluxio.worker.s3.port');
  const rpcBase = base.int('alluxio.worker.rpc.port');
  const httpsBase = base.int('alluxio.worker.s3.https.port');
  const webBase = base.int('alluxio.worker.web.port');

  const children: Child[] = [];
  const spawnChild = (name: string, argv: string[]): Child => {
    const logFile = path.join(logDir, `${name}.log`);
    const out = createWriteStream(logFile, { flags: 'a' });
    const proc = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: process.env });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const child = { name, proc, logFile, exited };
    children.push(child);
    return child;
  };
  const confArgs = (extra: string[]) => [...common, ...extra].flatMap((c) => ['--conf', c]);

  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    // Workers first (they unregister from the coordinator), then the coordinator.
    for (const group of [children.filter((c) => c.name !== 'coordinator'), children.filter((c) => c.name === 'coordinator')]) {
      for (const c of group) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
      await Promise.all(group.map((c) => Promise.race([c.exited, new Promise((r) => setTimeout(r, 10_000))])));
      for (const c of group) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
  };
  const died = new Promise<Child>((resolve) => {
    // A worker that exits 0 was decommissioned (or stopped on purpose): the rest keeps running.
    const watch = (c: Child) => void c.exited.then((code) => { if (!stopping && !(code === 0 && c.name !== 'coordinator')) resolve(c); });
    const orig = children.push.bind(children);
    children.push = (...cs: Child[]) => { cs.forEach(watch); return orig(...cs); };
  });
  const signal = stopSignal();

  try {
    spawnChild('coordinator', ['coordinator', ...confArgs([])]);
    const ready = (async () => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await callCoordinator(base, 'ListWorkers', {});
          break;
        } catch (err) {
          if (Date.now() > deadline) throw new CliError(`the coordinator did not come up: ${(err as Error).message}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const ports: number[] = [];
      for (let i = 0; i < args.workers; i++) {
        const s3Port = s3Base + 100 * i;
        ports.push(s3Port);
        spawnChild(`worker-${i}`, ['worker', ...confArgs([
          `alluxio.worker.id=worker-${i}`,
          `alluxio.worker.s3.port=${s3Port}`,
          `alluxio.worker.rpc.port=${rpcBase + 100 * i}`,
          `alluxio.worker.s3.https.port=${httpsBase + 100 * i}`,
          `alluxio.worker.web.port=${webBase === 0 ? 0 : webBase + 100 * i}`,
          `alluxio.worker.page.store.dirs=${path.join(dataDir, 'cache', `worker-${i}`)}`,
        ])]);
      }
      const host = base.string('alluxio.worker.hostname');
      for (const port of ports) {
        for (;;) {
          const ok = await fetch(`http://${host}:${port}/_alluxio/health`).then((r) => r.ok, () => false);
          if (ok) break;
          if (Date.now() > deadline) throw new CliError(`the worker on port ${port} did not become ready within 60 s`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      return ports.map((p) => `http://${host}:${p}`);
    })();
    const outcome = await Promise.race([
      ready.then((endpoints) => ({ kind: 'ready' as const, endpoints })),
      died.then((c) => ({ kind: 'died' as const, c })),
      signal.then(() => ({ kind: 'signal' as const })),
    ]);
    if (outcome.kind === 'died') throw new CliError(`${outcome.c.name} exited during start-up: ${await lastLogMessage(outcome.c.logFile)} (log: ${outcome.c.logFile})`);
    if (outcome.kind === 'signal') return;
    const cfgHost = base.string('alluxio.coordinator.hostname');
    console.log(`Alluxio local cluster is running: a coordinator and ${args.workers} worker${args.workers > 1 ? 's' : ''}`);
    console.log(`  S3 endpoint:   ${outcome.endpoints[0]}`);
    if (outcome.endpoints.length > 1) console.log(`  every worker:  ${outcome.endpoints.join(' ')}`);
    console.log(`  coordinator:   ${cfgHost}:${base.int('alluxio.coordinator.rpc.port')} (gRPC), http://${cfgHost}:${base.int('alluxio.coordinator.web.port')}/ (status page, /metrics)`);
    if (webBase !== 0) console.log(`  worker metrics: http://${base.string('alluxio.worker.hostname')}:${webBase}/metrics (worker N: port ${webBase}+100·N)`);
    console.log(`  data:          ${dataDir} (UFS root ${base.path('alluxio.master.mount.table.root.ufs', () => path.join(dataDir, 'ufs'))})`);
    console.log(`  logs:          ${logDir}`);
    console.log('Press Ctrl-C to stop.');
    const after = await Promise.race([signal.then(() => undefined), died]);
    if (after) throw new CliError(`${after.name} exited unexpectedly: ${await lastLogMessage(after.logFile)} (log: ${after.logFile})`);
    console.log('Stopping the cluster…');
  } finally {
    await stopAll();
  }
  console.log('Stopped.');
}
