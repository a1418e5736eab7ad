/**
 * The coordinator's jobs (today: load): start, resume, stop, look up. Jobs live in the job
 * store, so they outlive the CLI that started them and the coordinator itself: a job RUNNING
 * when the coordinator stopped goes on when it starts again.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../common/log.js';
import { NamespacePathError, normalizeNamespacePath } from '../../common/namespace-path.js';
import type { JobInfo } from '../../proto/index.js';
import { CoordinatorError } from '../errors.js';
import type { JobRecord, JobStore } from './job-store.js';
import { LoadJob, type LoadJobDeps } from './load-job.js';

export function jobInfo(r: JobRecord): JobInfo {
  return {
    id: r.id, type: r.type, path: r.path, state: r.state,
    files_total: r.filesTotal, files_done: r.filesDone, files_failed: r.filesFailed,
    bytes_total: r.bytesTotal, bytes_done: r.bytesDone,
    start_ms: r.startMs, end_ms: r.endMs, listing_done: r.listingDone,
    failures: r.failures, error: r.error, updated_ms: r.updatedMs,
  };
}

export class JobManager {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly running = new Map<string, LoadJob>();
  private closed = false;

  private constructor(private readonly store: JobStore, private readonly deps: Omit<LoadJobDeps, 'store'>, private readonly log: Logger) {}

  /** Loads the stored jobs and resumes the ones that were RUNNING. */
  static async open(store: JobStore, deps: Omit<LoadJobDeps, 'store'>, log: Logger): Promise<JobManager> {
    const m = new JobManager(store, deps, log);
    for (const rec of await store.loadAll()) m.jobs.set(rec.id, rec);
    for (const rec of m.jobs.values()) {
      if (rec.state !== 'RUNNING') continue;
      log.info({ job_id: rec.id, path: rec.path, files_done: rec.filesDone }, 'resuming a load job that was running');
      m.run(rec);
    }
    return m;
  }

  private run(rec: JobRecord): void {
    const job = new LoadJob(rec, { ...this.deps, store: this.store });
    this.running.set(rec.id, job);
    job.start();
    void job.finished.then(() => {
      if (this.running.get(rec.id) === job) this.running.delete(rec.id);
    });
  }

  private normalize(path: string): string {
    try {
      return normalizeNamespacePath(path ?? '');
    } catch (err) {
      if (err instanceof NamespacePathError) throw new CoordinatorError('INVALID_ARGUMENT', err.message);
      throw err;
    }
  }

  /** The newest job of a path. */
  private latestOf(path: string): JobRecord | undefined {
    let latest: JobRecord | undefined;
    for (const r of this.jobs.values()) if (r.path === path && (!latest || r.startMs >= latest.startMs)) latest = r;
    return latest;
  }

  /**
   * Starts a load of `path`, or picks up its newest job: a RUNNING one is returned as it is, a
   * STOPPED or FAILED one resumes where it left off. With `resumeOnly`, nothing new is started.
   */
  async load(rawPath: string, resumeOnly: boolean): Promise<JobInfo> {
    if (this.closed) throw new CoordinatorError('UNAVAILABLE', 'the coordinator is shutting down');
    const path = this.normalize(rawPath);
    const latest = this.latestOf(path);
    if (latest?.state === 'RUNNING') return jobInfo(latest);
    if (latest && (latest.state === 'STOPPED' || latest.state === 'FAILED')) {
      await this.running.get(latest.id)?.finished;
      Object.assign(latest, { state: 'RUNNING', error: '', endMs: 0 });
      this.log.info({ job_id: latest.id, path, files_done: latest.filesDone, files_total: latest.filesTotal }, 'load job resumed');
      await this.store.save(structuredClone(latest));
      this.run(latest);
      return jobInfo(latest);
    }
    if (resumeOnly) throw new CoordinatorError('NOT_FOUND', `no stopped or failed load of ${path} to resume`);
    const now = Date.now();
    const rec: JobRecord = {
      format: 1, id: `load-${randomBytes(4).toString('hex')}`, type: 'load', path, state: 'RUNNING',
      filesTotal: 0, filesDone: 0, filesFailed: 0, bytesTotal: 0, bytesDone: 0,
      startMs: now, endMs: 0, updatedMs: now, listingDone: false, failures: [], error: '', settledThrough: 0, settledAhead: [],
    };
    await this.store.save(structuredClone(rec));
    this.jobs.set(rec.id, rec);
    this.log.info({ job_id: rec.id, path }, 'load job started');
    this.run(rec);
    return jobInfo(rec);
  }

  private find(ref: { id?: string; path?: string }): JobRecord {
    if (ref.id) {
      const r = this.jobs.get(ref.id);
      if (!r) throw new CoordinatorError('NOT_FOUND', `no job ${ref.id}; see alluxio job list`);
      return r;
    }
    if (ref.path) {
      const path = this.normalize(ref.path);
      const r = this.latestOf(path);
      if (!r) throw new CoordinatorError('NOT_FOUND', `no job for ${path}`);
      return r;
    }
    throw new CoordinatorError('INVALID_ARGUMENT', 'name a job id or a path');
  }

  get(ref: { id?: string; path?: string }): JobInfo {
    return jobInfo(this.find(ref));
  }

  /** Stops a RUNNING job (a stopped one is answered as it is). */
  async stop(ref: { id?: string; path?: string }): Promise<JobInfo> {
    const rec = this.find(ref);
    if (rec.state === 'COMPLETED') throw new CoordinatorError('FAILED_PRECONDITION', `job ${rec.id} has already completed`);
    const job = this.running.get(rec.id);
    if (job) await job.halt('stop');
    return jobInfo(rec);
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].sort((a, b) => a.startMs - b.startMs).map(jobInfo);
  }

  /** Halts every running job without changing its state: it resumes on the next start. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.running.values()].map((j) => j.halt('shutdown')));
    await this.store.flush();
  }
}
