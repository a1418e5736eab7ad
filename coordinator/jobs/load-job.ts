/**
 * One running load job: it lists the path once into the job's spool (counting files and bytes),
 * then reads the spool in order and hands each object to its owner on the ring, in batches,
 * a bounded number in flight per worker. The job reads ahead of its settled lines by at most a
 * window, so what a stop leaves unsettled is bounded and exactly known: a resume skips every
 * settled line and sends the rest again (a key the worker had cached meanwhile costs no UFS
 * read). Per-key failures (deleted since listed, a UFS error) are counted and kept, never fatal;
 * only a listing that cannot be made fails the job.
 */
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import readline from 'node:readline';
import type { Config } from '../../common/config/config.js';
import type { Logger } from '../../common/log.js';
import { Ring } from '../../common/ring.js';
import type { WorkerInfo } from '../../proto/index.js';
import type { ClusterState } from '../cluster-state.js';
import type { JobRecord, JobStore } from './job-store.js';
import { listNamespace } from './namespace-ufs.js';
import type { WorkerPeers } from './worker-peers.js';

export interface LoadJobDeps {
  state: ClusterState;
  config: Config;
  stagingDir: string;
  store: JobStore;
  peers: WorkerPeers;
  batchSize: number;
  batchesPerWorker: number;
  log: Logger;
}

/** Failures kept with the job (all are counted). */
export const MAX_KEPT_FAILURES = 1000;
/** Sends of one key (not its owner any more, worker unreachable) before it counts as failed. */
const MAX_ATTEMPTS = 5;
const RETRY_DELAY_MS = 1000;
const SAVE_EVERY_MS = 1000;

interface Item {
  path: string;
  size: number;
  line: number;
  attempts: number;
}

export type HaltReason = 'stop' | 'shutdown';

export class LoadJob {
  private readonly abort = new AbortController();
  private readonly ahead: Set<number>;
  private done: Promise<void> = Promise.resolve();
  private saveTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly log: Logger;

  constructor(readonly job: JobRecord, private readonly deps: LoadJobDeps) {
    this.ahead = new Set(job.settledAhead);
    this.log = deps.log.child({ job_id: job.id, path: job.path });
  }

  start(): void {
    this.saveTimer = setInterval(() => void this.save(), SAVE_EVERY_MS);
    this.done = this.run()
      .catch((err) => {
        if (this.abort.signal.aborted) return;
        this.job.state = 'FAILED';
        this.job.error = (err as Error).message;
        this.job.endMs = Date.now();
        this.log.warn({ err: (err as Error).message }, 'load job failed');
      })
      .finally(async () => {
        clearInterval(this.saveTimer);
        await this.save();
      });
  }

  /** Stops sending (in-flight calls are cancelled; their keys stay unsettled) and saves. */
  async halt(reason: HaltReason): Promise<void> {
    if (!this.abort.signal.aborted) {
      this.abort.abort();
      this.wake?.();
      if (reason === 'stop' && this.job.state === 'RUNNING') {
        this.job.state = 'STOPPED';
        this.job.endMs = Date.now();
        this.log.info({ files_done: this.job.filesDone, files_total: this.job.filesTotal }, 'load job stopped');
      }
    }
    await this.done;
  }

  get finished(): Promise<void> {
    return this.done;
  }

  private save(): Promise<void> {
    this.job.updatedMs = Date.now();
    this.job.settledAhead = [...this.ahead];
    return this.deps.store.save(structuredClone(this.job)).catch((err) => this.log.error({ err }, 'cannot save the job'));
  }

  private async run(): Promise<void> {
    if (!this.job.listingDone) await this.list();
    if (this.abort.signal.aborted) return;
    await this.load();
    if (this.abort.signal.aborted) return;
    this.job.state = 'COMPLETED';
    this.job.endMs = Date.now();
    this.log.info({ files_done: this.job.filesDone, files_failed: this.job.filesFailed, bytes_done: this.job.bytesDone, ms: this.job.endMs - this.job.startMs }, 'load job completed');
    await this.deps.store.removeSpool(this.job.id);
  }

  /** Lists the path into a fresh spool; a listing cut short is made again from the start. */
  private async list(): Promise<void> {
    const { state, config, stagingDir, store } = this.deps;
    Object.assign(this.job, { filesTotal: 0, bytesTotal: 0, settledThrough: 0 });
    this.ahead.clear();
    const out = store.openSpool(this.job.id);
    try {
      for await (const page of listNamespace(state, config, stagingDir, this.job.path, this.abort.signal)) {
        for (const o of page) {
          if (!out.write(`${JSON.stringify([o.path, o.size])}\n`)) await once(out, 'drain');
          this.job.filesTotal++;
          this.job.bytesTotal += o.size;
        }
      }
    } finally {
      out.end();
      await once(out, 'close').catch(() => undefined);
    }
    if (this.abort.signal.aborted) return;
    this.job.listingDone = true;
    this.log.info({ files: this.job.filesTotal, bytes: this.job.bytesTotal }, 'load job listed its path');
    await this.save();
  }

  private liveWorkers(): WorkerInfo[] {
    return this.deps.state.listWorkers().filter((w) => w.state === 'LIVE');
  }

  private settle(line: number): void {
    if (line !== this.job.settledThrough) {
      this.ahead.add(line);
      return;
    }
    this.job.settledThrough++;
    while (this.ahead.delete(this.job.settledThrough)) this.job.settledThrough++;
  }

  private fail(item: Item, reason: string): void {
    this.job.filesFailed++;
    if (this.job.failures.length < MAX_KEPT_FAILURES) this.job.failures.push({ path: item.path, reason });
    this.settle(item.line);
  }

  private async load(): Promise<void> {
    const { batchSize, batchesPerWorker, peers } = this.deps;
    const signal = this.abort.signal;
    const input = createReadStream(this.deps.store.spoolFile(this.job.id), { encoding: 'utf8' });
    const lines = readline.createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
    const queues = new Map<string, Item[]>();
    const inflight = new Map<string, number>();
    let unrouted: Item[] = [];
    let delayed = 0;
    let next = 0;
    let eof = false;
    let ring = { version: -1, ring: new Ring([]), members: new Map<string, WorkerInfo>() };
    const currentRing = () => {
      if (ring.version !== this.deps.state.clusterVersion) {
        const live = this.liveWorkers();
        ring = { version: this.deps.state.clusterVersion, ring: new Ring(live.map((w) => w.id)), members: new Map(live.map((w) => [w.id, w])) };
      }
      return ring;
    };
    const later = (items: Item[]): void => {
      delayed++;
      setTimeout(() => {
        delayed--;
        unrouted.push(...items);
        this.wake?.();
      }, RETRY_DELAY_MS).unref();
    };
    const retry = (item: Item, reason: string): void => {
      item.attempts++;
      if (item.attempts >= MAX_ATTEMPTS) this.fail(item, `gave up after ${item.attempts} attempts: ${reason}`);
      else later([item]);
    };

    const send = (owner: WorkerInfo, items: Item[]): void => {
      inflight.set(owner.id, (inflight.get(owner.id) ?? 0) + 1);
      peers.loadKeys(owner, { job_id: this.job.id, paths: items.map((i) => i.path) }, signal).then(
        (res) => {
          if (signal.aborted) return;
          const byPath = new Map(res.results.map((r) => [r.path, r]));
          for (const item of items) {
            const r = byPath.get(item.path);
            if (!r) retry(item, `${owner.id} did not answer for it`);
            else if (r.status === 'LOADED') {
              this.job.filesDone++;
              this.job.bytesDone += item.size;
              this.settle(item.line);
            } else if (r.status === 'NOT_OWNER') retry(item, `${owner.id}: ${r.reason}`);
            else this.fail(item, r.reason || 'failed');
          }
        },
        (err) => {
          if (signal.aborted) return;
          this.log.warn({ worker_id: owner.id, keys: items.length, err: (err as Error).message }, 'a load batch failed; its keys are sent again');
          for (const item of items) retry(item, (err as Error).message);
        },
      ).finally(() => {
        inflight.set(owner.id, (inflight.get(owner.id) ?? 1) - 1);
        this.wake?.();
      });
    };

    try {
      while (!signal.aborted) {
        const { ring: r, members } = currentRing();
        const window = batchSize * batchesPerWorker * Math.max(1, members.size);
        // Read ahead up to the window past the first unsettled line.
        while (!eof && next < this.job.settledThrough + window) {
          const step = await lines.next();
          if (step.done) {
            eof = true;
            break;
          }
          const line = next++;
          if (line < this.job.settledThrough || this.ahead.has(line)) continue;
          const [path, size] = JSON.parse(step.value) as [string, number];
          unrouted.push({ path, size, line, attempts: 0 });
        }
        // Route by the ring as it is now (a key whose owner changed is routed again).
        const waiting = unrouted;
        unrouted = [];
        for (const item of waiting) {
          const owner = r.owner(item.path);
          if (owner === undefined) {
            later([item]);
            continue;
          }
          let q = queues.get(owner);
          if (!q) queues.set(owner, (q = []));
          q.push(item);
        }
        for (const [id, q] of queues) {
          const w = members.get(id);
          if (!w) {
            // Left the ring since these were queued: route them again.
            unrouted.push(...q.splice(0));
            continue;
          }
          while (q.length > 0 && (inflight.get(id) ?? 0) < batchesPerWorker) send(w, q.splice(0, batchSize));
        }
        if (unrouted.length > 0) continue;
        const busy = [...inflight.values()].some((n) => n > 0) || delayed > 0 || [...queues.values()].some((q) => q.length > 0);
        if (eof && !busy) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
      }
    } finally {
      input.destroy();
    }
  }
}
