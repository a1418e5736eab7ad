/**
 * Where jobs survive the CLI and the coordinator: `<state dir>/jobs/<id>.json` (the job: path,
 * state, counters, failures, and how far it got) replaced atomically on every save, and
 * `<id>.keys`, the job's listing spooled to disk (one `[path, size]` JSON line per object), so a
 * resumed job goes on from exactly the objects it listed, whatever the UFS holds by then.
 */
import { createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../common/log.js';
import type { JobFailure, JobState } from '../../proto/index.js';

export interface JobRecord {
  format: 1;
  id: string;
  type: 'load';
  path: string;
  state: JobState;
  filesTotal: number;
  filesDone: number;
  filesFailed: number;
  bytesTotal: number;
  bytesDone: number;
  startMs: number;
  endMs: number;
  updatedMs: number;
  listingDone: boolean;
  failures: JobFailure[];
  error: string;
  /** Every spool line before this one is settled (loaded or failed). */
  settledThrough: number;
  /** Lines after settledThrough already settled (completions arrive out of order). */
  settledAhead: number[];
}

function isRecord(v: unknown): v is JobRecord {
  const r = v as Partial<JobRecord> | null;
  return typeof r === 'object' && r !== null && r.format === 1 && typeof r.id === 'string' && typeof r.path === 'string'
    && ['RUNNING', 'STOPPED', 'COMPLETED', 'FAILED'].includes(String(r.state))
    && typeof r.filesDone === 'number' && typeof r.settledThrough === 'number' && Array.isArray(r.settledAhead) && Array.isArray(r.failures);
}

export class JobStore {
  readonly dir: string;
  private readonly chains = new Map<string, Promise<void>>();
  private seq = 0;

  constructor(stateDir: string, private readonly log: Logger) {
    this.dir = path.join(stateDir, 'jobs');
  }

  /** Every stored job; an unreadable file is logged and left alone (it never blocks a start). */
  async loadAll(): Promise<JobRecord[]> {
    await fs.mkdir(this.dir, { recursive: true });
    const out: JobRecord[] = [];
    for (const name of await fs.readdir(this.dir)) {
      const file = path.join(this.dir, name);
      if (name.startsWith('.') && name.endsWith('.tmp')) {
        await fs.unlink(file).catch(() => undefined);
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const rec: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
        if (!isRecord(rec)) throw new Error('not a job record');
        out.push(rec);
      } catch (err) {
        this.log.error({ file, err: (err as Error).message }, 'unreadable job file left alone');
      }
    }
    return out.sort((a, b) => a.startMs - b.startMs);
  }

  /** Writes the job atomically; saves of one job land in call order. */
  save(rec: JobRecord): Promise<void> {
    const text = JSON.stringify(rec) + '\n';
    const file = path.join(this.dir, `${rec.id}.json`);
    const tmp = path.join(this.dir, `.${rec.id}.${process.pid}.${++this.seq}.tmp`);
    const run = (this.chains.get(rec.id) ?? Promise.resolve()).then(async () => {
      try {
        await fs.writeFile(tmp, text, { mode: 0o600 });
        await fs.rename(tmp, file);
      } catch (err) {
        await fs.unlink(tmp).catch(() => undefined);
        throw err;
      }
    });
    const tail = run.catch(() => undefined);
    this.chains.set(rec.id, tail);
    void tail.then(() => { if (this.chains.get(rec.id) === tail) this.chains.delete(rec.id); });
    return run;
  }

  spoolFile(id: string): string {
    return path.join(this.dir, `${id}.keys`);
  }

  /** A fresh spool for a (re)started listing. */
  openSpool(id: string): WriteStream {
    return createWriteStream(this.spoolFile(id), { flags: 'w', mode: 0o600 });
  }

  async removeSpool(id: string): Promise<void> {
    await fs.unlink(this.spoolFile(id)).catch(() => undefined);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }
}
