/**
 * Decommissioning a worker. `Membership.decommission` takes it out of the ring at once
 * (DECOMMISSIONING: new requests go to the other workers; it stays reachable, listed in every
 * snapshot's `draining`, for the write-cache copies it holds). The workers' write caches then
 * hand its unpersisted objects over (the takeover used for lost workers: the first live replica
 * holder persists each; the draining worker persists the ones only it holds). This module
 * watches the metastore: once no WRITE_BACK entry names the worker (as persister or as holder)
 * on two checks in a row, the worker is DECOMMISSIONED, told so at its next heartbeat, and
 * stops cleanly (unregistering, so it leaves `worker list`).
 */
import type { Logger } from '../../common/log.js';
import type { Metastore } from '../../common/metastore/types.js';
import { allEntries } from '../../common/metastore/write-entries.js';
import type { DecommissionStatus } from '../../proto/index.js';
import type { ClusterState } from '../cluster-state.js';
import { CoordinatorError } from '../errors.js';
import type { Membership } from '../membership.js';

interface Progress {
  startedMs: number;
  backlog: number;
  transient: number;
  /** Consecutive checks that found nothing depending on the worker. */
  clearChecks: number;
}

export class Decommissioner {
  private readonly progress = new Map<string, Progress>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly state: ClusterState, private readonly membership: Membership, private readonly metastore: Metastore, private readonly intervalMs: number, private readonly log: Logger) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async decommission(id: string): Promise<DecommissionStatus> {
    if (!id) throw new CoordinatorError('INVALID_ARGUMENT', 'name the worker to decommission');
    await this.membership.decommission(id);
    if (!this.progress.has(id)) this.progress.set(id, { startedMs: Date.now(), backlog: -1, transient: 0, clearChecks: 0 });
    return this.status(id);
  }

  status(id: string): DecommissionStatus {
    const w = this.state.getWorker(id);
    const p = this.progress.get(id);
    if (w?.state === 'DECOMMISSIONING' || w?.state === 'DECOMMISSIONED') {
      return { id, state: w.state, backlog: p?.backlog ?? 0, transient: p?.transient ?? 0, started_ms: p?.startedMs ?? 0 };
    }
    // Gone from the list once it unregistered: this coordinator remembers it was decommissioned.
    if (!w && p) return { id, state: 'DECOMMISSIONED', backlog: 0, transient: p.transient, started_ms: p.startedMs };
    if (!w) throw new CoordinatorError('NOT_FOUND', `no worker ${id}`);
    throw new CoordinatorError('FAILED_PRECONDITION', `worker ${id} is ${w.state}, not being decommissioned`);
  }

  /** One pass: counts what each draining worker still holds; completes the ones that hold nothing. */
  async check(): Promise<void> {
    if (this.checking) return;
    const draining = this.state.listWorkers().filter((w) => w.state === 'DECOMMISSIONING');
    if (draining.length === 0) return;
    this.checking = true;
    try {
      const entries = await allEntries(this.metastore);
      for (const w of draining) {
        let p = this.progress.get(w.id);
        if (!p) this.progress.set(w.id, (p = { startedMs: Date.now(), backlog: -1, transient: 0, clearChecks: 0 }));
        const names = (e: { persister: string; holders: string[] }) => e.persister === w.id || e.holders.includes(w.id);
        const backlog = entries.filter((e) => e.policy === 'WRITE_BACK' && names(e)).length;
        p.transient = entries.filter((e) => e.policy === 'TRANSIENT' && e.holders.includes(w.id)).length;
        if (backlog !== p.backlog) this.log.info({ worker_id: w.id, backlog, transient: p.transient }, 'decommission progress');
        p.backlog = backlog;
        // Two clear checks an interval apart: a write the worker accepted just before it left
        // the ring has committed its entry by then.
        p.clearChecks = backlog === 0 ? p.clearChecks + 1 : 0;
        if (p.clearChecks >= 2) await this.membership.completeDecommission(w.id);
      }
    } catch (err) {
      this.log.warn({ err }, 'decommission check failed; it runs again');
    } finally {
      this.checking = false;
    }
  }
}
