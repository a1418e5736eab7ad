/**
 * Starts a real cluster for a test: `alluxio coordinator` and N `alluxio worker` processes on
 * free 127.0.0.1 ports, each logging to <dataDir>/logs. Waits until every worker serves and
 * sees every other one, and closes everything (SIGTERM, then SIGKILL) in close().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ring, objectPathKey } from '../../common/ring.js';
import { freePort, waitFor } from './ports.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = path.join(REPO_ROOT, 'bin', 'alluxio');

export interface ProcInfo {
  name: string;
  proc: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

export interface TestWorker {
  index: number;
  id: string;
  s3Port: number;
  rpcPort: number;
  /** The worker web port: /metrics and /health. */
  webPort: number;
  endpoint: string;
  cacheDir: string;
  conf: Record<string, string>;
  p: ProcInfo | undefined;
}

export interface ClusterOptions {
  workers?: number;
  /** Properties for every process. */
  conf?: Record<string, string>;
  /** Extra properties per worker. */
  workerConf?: (index: number) => Record<string, string>;
  dataDir?: string;
  /** Node flags of the worker processes (e.g. --cpu-prof for the benchmark; NODE_OPTIONS refuses it). */
  workerNodeArgs?: string[];
  /** Node flags of the coordinator process. */
  coordinatorNodeArgs?: string[];
}

function spawnAlluxio(name: string, args: string[], conf: Record<string, string>, logDir: string, nodeArgs: string[] = []): ProcInfo {
  const logFile = path.join(logDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const confArgs = Object.entries(conf).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
  const proc = spawn(process.execPath, [...nodeArgs, BIN, ...args, ...confArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ALLUXIO_CONF_DIR: '' },
  });
  // Two pipes share one file: neither may end it while the other still writes.
  proc.stdout!.pipe(out, { end: false });
  proc.stderr!.pipe(out, { end: false });
  proc.once('close', () => out.end());
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))));
  return { name, proc, logFile, exited };
}

async function stop(p: ProcInfo | undefined, signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 8000): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill(signal);
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), killAfterMs);
  await p.exited;
  clearTimeout(timer);
}

export class TestCluster {
  coordinator!: ProcInfo;
  coordinatorRpcPort = 0;
  coordinatorWebPort = 0;
  workers: TestWorker[] = [];
  readonly logDir: string;
  readonly baseConf: Record<string, string>;

  constructor(readonly dataDir: string, private readonly opts: ClusterOptions) {
    this.logDir = path.join(dataDir, 'logs');
    this.baseConf = {
      'alluxio.data.dir': dataDir,
      'alluxio.log.level': 'info',
      'alluxio.coordinator.worker.timeout': '3sec',
      'alluxio.worker.master.heartbeat.interval': '300ms',
      // A stopping worker waits this long for idle keep-alive clients to let go; tests without a
      // load balancer in front need not wait (the nginx tests set the default back).
      'alluxio.worker.s3.shutdown.idle.grace': '200ms',
      ...(opts.conf ?? {}),
    };
  }

  get endpoint(): string {
    return this.workers[0].endpoint;
  }

  get ufsRoot(): string {
    return this.baseConf['alluxio.master.mount.table.root.ufs'] ?? path.join(this.dataDir, 'ufs');
  }

  /** Properties that point a CLI invocation at this cluster's coordinator. */
  cliConf(): Record<string, string> {
    return {
      'alluxio.coordinator.rpc.port': String(this.coordinatorRpcPort),
      'alluxio.coordinator.web.port': String(this.coordinatorWebPort),
    };
  }

  async start(): Promise<void> {
    await fs.mkdir(this.logDir, { recursive: true });
    this.coordinatorRpcPort = await freePort();
    this.coordinatorWebPort = await freePort();
    Object.assign(this.baseConf, this.cliConf());
    this.coordinator = spawnAlluxio('coordinator', ['coordinator'], this.baseConf, this.logDir, this.opts.coordinatorNodeArgs);
    const n = this.opts.workers ?? 3;
    for (let i = 0; i < n; i++) this.workers.push(await this.defineWorker(i));
    await this.waitCoordinator();
    for (const w of this.workers) w.p = spawnAlluxio(w.id, ['worker'], w.conf, this.logDir, this.opts.workerNodeArgs);
    await this.waitSettled();
  }

  private async waitCoordinator(): Promise<void> {
    await waitFor('the coordinator', async () => {
      this.assertAlive(this.coordinator);
      return (await fetch(`http://127.0.0.1:${this.coordinatorWebPort}/health`)).ok;
    }, 30_000);
  }

  private assertAlive(p: ProcInfo | undefined): void {
    if (p && (p.proc.exitCode !== null || p.proc.signalCode !== null)) {
      throw new Error(`${p.name} exited (${p.proc.exitCode ?? p.proc.signalCode}); log tail:\n${tail(p.logFile)}`);
    }
  }

  /** Until every running worker is ready and sees the coordinator's current membership. */
  async waitSettled(timeoutMs = 30_000): Promise<void> {
    const running = this.workers.filter((w) => w.p && w.p.proc.exitCode === null && w.p.proc.signalCode === null);
    await waitFor('the workers to join and agree on the ring', async () => {
      this.assertAlive(this.coordinator);
      running.forEach((w) => this.assertAlive(w.p));
      const cluster = await (await fetch(`http://127.0.0.1:${this.coordinatorWebPort}/api/v1/cluster`)).json() as { version: number; workers: { id: string; state: string }[] };
      const live = new Set(cluster.workers.filter((w) => w.state === 'LIVE').map((w) => w.id));
      if (running.some((w) => !live.has(w.id)) || live.size !== running.length) return false;
      for (const w of running) {
        const h = await (await fetch(`${w.endpoint}/_alluxio/health`)).json() as { ready: boolean; version: number };
        if (!h.ready || h.version !== cluster.version) return false;
      }
      return true;
    }, timeoutMs, 100);
  }

  /** The worker that owns /bucket/key on the current ring of running workers. */
  owner(bucket: string, key: string): TestWorker {
    const running = this.workers.filter((w) => w.p && w.p.proc.exitCode === null && w.p.proc.signalCode === null);
    const id = new Ring(running.map((w) => w.id)).owner(objectPathKey(bucket, key));
    return this.workers.find((w) => w.id === id)!;
  }

  nonOwner(bucket: string, key: string): TestWorker {
    const owner = this.owner(bucket, key);
    return this.workers.find((w) => w !== owner && w.p && w.p.proc.exitCode === null)!;
  }

  /** A key under `prefix` that `worker` owns. */
  keyOwnedBy(worker: TestWorker, bucket: string, prefix: string): string {
    for (let i = 0; ; i++) if (this.owner(bucket, `${prefix}${i}`) === worker) return `${prefix}${i}`;
  }

  async stats(w: TestWorker): Promise<WorkerStats> {
    return (await fetch(`${w.endpoint}/_alluxio/stats`)).json() as Promise<WorkerStats>;
  }

  /** worker-i: fresh free ports and its own cache directory (not started). */
  private async defineWorker(i: number, extraConf: Record<string, string> = {}): Promise<TestWorker> {
    const s3Port = await freePort();
    const rpcPort = await freePort();
    const webPort = await freePort();
    const cacheDir = path.join(this.dataDir, 'cache', `worker-${i}`);
    const conf = {
      ...this.baseConf,
      'alluxio.worker.id': `worker-${i}`,
      'alluxio.worker.s3.port': String(s3Port),
      'alluxio.worker.rpc.port': String(rpcPort),
      'alluxio.worker.web.port': String(webPort),
      'alluxio.worker.page.store.dirs': cacheDir,
      ...(this.opts.workerConf?.(i) ?? {}),
      ...extraConf,
    };
    return { index: i, id: `worker-${i}`, s3Port, rpcPort, webPort, endpoint: `http://127.0.0.1:${s3Port}`, cacheDir, conf, p: undefined };
  }

  /** Starts one more worker (worker-N, fresh ports and cache) and waits until every worker sees it. */
  async addWorker(extraConf: Record<string, string> = {}): Promise<TestWorker> {
    const w = await this.defineWorker(this.workers.length, extraConf);
    this.workers.push(w);
    w.p = spawnAlluxio(w.id, ['worker'], w.conf, this.logDir, this.opts.workerNodeArgs);
    await this.waitSettled();
    return w;
  }

  async killWorker(w: TestWorker, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await stop(w.p, signal);
  }

  async restartWorker(w: TestWorker, opts: { killAfterMs?: number } = {}): Promise<void> {
    await this.stopWorker(w, opts);
    this.startWorker(w);
    await this.waitSettled();
  }

  /** SIGTERM (SIGKILL after `killAfterMs`); resolves with the exit code (-1 when killed by a signal). */
  async stopWorker(w: TestWorker, opts: { killAfterMs?: number } = {}): Promise<number | null> {
    await stop(w.p, 'SIGTERM', opts.killAfterMs);
    return w.p ? w.p.exited : null;
  }

  /** Starts a stopped worker again with the same id, ports, cache dir and properties. */
  startWorker(w: TestWorker): void {
    w.p = spawnAlluxio(w.id, ['worker'], w.conf, this.logDir, this.opts.workerNodeArgs);
  }

  /** Stops and starts the coordinator on the same ports and data dir; waits until the workers are back. */
  async restartCoordinator(): Promise<void> {
    await stop(this.coordinator);
    this.coordinator = spawnAlluxio('coordinator', ['coordinator'], this.baseConf, this.logDir, this.opts.coordinatorNodeArgs);
    await this.waitCoordinator();
    await this.waitSettled();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => stop(w.p)));
    await stop(this.coordinator);
  }

  logs(): string {
    return [this.coordinator, ...this.workers.map((w) => w.p)].filter(Boolean).map((p) => `--- ${p!.name}\n${tail(p!.logFile)}`).join('\n');
  }
}

export interface WorkerStats {
  id: string;
  version: number;
  ufs: { stats: number; reads: number; readBytes: number; writes: number; writeBytes: number; deletes: number; lists: number; errors: number };
  cache: { pageHits: number; pageMisses: number; ufsReads: number; ufsBytes: number; usedBytes: number; capacityBytes: number; pages: number };
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `alluxio-${prefix}-`));
}

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const c = new TestCluster(opts.dataDir ?? tempDir('cluster'), opts);
  try {
    await c.start();
  } catch (err) {
    const logs = c.logs();
    await c.close();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return c;
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], opts: { conf?: Record<string, string>; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const confArgs = Object.entries(opts.conf ?? {}).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
  return runCommand(process.execPath, [BIN, ...args, ...confArgs], { env: { ALLUXIO_CONF_DIR: '', ...opts.env }, timeoutMs: opts.timeoutMs });
}

/** Runs any program to completion with a time bound; a missing program is an error, never a skip. */
export function runCommand(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    p.on('error', (err) => { clearTimeout(timer); reject(new Error(`cannot run ${cmd}: ${err.message}`)); });
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    p.stdin.on('error', () => { /* the program may exit without reading its input (EPIPE) */ });
    p.stdin.end(opts.input ?? '');
  });
}
