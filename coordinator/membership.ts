/**
 * Worker membership: registration, heartbeats, clean leave and lost-worker detection.
 * Every change to who is in the ring (joined, moved, lost, back, left) is committed with a
 * version bump, which is what makes the ring snapshot go out to the workers.
 */
import type { Logger } from '../common/log.js';
import type {
  CacheUsage,
  HeartbeatRequest,
  HeartbeatResponse,
  ListWorkersResponse,
  RegisterWorkerRequest,
  RegisterWorkerResponse,
  WorkerAddress,
  WorkerInfo,
} from '../proto/index.js';
import type { ClusterState } from './cluster-state.js';
import { CoordinatorError } from './errors.js';

export interface MembershipOptions {
  /** Told to workers at registration (alluxio.worker.master.heartbeat.interval). */
  heartbeatIntervalMs: number;
  /** Silence longer than this marks a LIVE worker LOST (alluxio.coordinator.worker.timeout). */
  workerTimeoutMs: number;
  /** How often to look for lost workers (alluxio.coordinator.lost.worker.detection.interval). */
  detectionIntervalMs: number;
}

const NO_CACHE: CacheUsage = { used_bytes: 0, capacity_bytes: 0, pages: 0 };
const NO_ADDRESS: WorkerAddress = { host: '', s3_port: 0, rpc_port: 0, https_port: 0, web_port: 0 };

// proto3 leaves absent message fields null; numbers may arrive as strings from JSON callers.
function cacheOf(c: Partial<CacheUsage> | null | undefined): CacheUsage {
  if (!c) return { ...NO_CACHE };
  return { used_bytes: Number(c.used_bytes ?? 0), capacity_bytes: Number(c.capacity_bytes ?? 0), pages: Number(c.pages ?? 0) };
}

function addressOf(a: Partial<WorkerAddress> | null | undefined): WorkerAddress {
  if (!a) return { ...NO_ADDRESS };
  return { host: a.host ?? '', s3_port: Number(a.s3_port ?? 0), rpc_port: Number(a.rpc_port ?? 0), https_port: Number(a.https_port ?? 0), web_port: Number(a.web_port ?? 0) };
}

function sameAddress(a: WorkerAddress, b: WorkerAddress): boolean {
  return a.host === b.host && a.s3_port === b.s3_port && a.rpc_port === b.rpc_port && a.https_port === b.https_port && a.web_port === b.web_port;
}

export class Membership {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: ClusterState,
    private readonly opts: MembershipOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the lost-worker detector. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.detectLost().catch((err) => this.log.error({ err }, 'lost-worker detection failed'));
    }, this.opts.detectionIntervalMs);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async register(req: RegisterWorkerRequest): Promise<RegisterWorkerResponse> {
    const id = (req.id ?? '').trim();
    if (id === '') throw new CoordinatorError('INVALID_ARGUMENT', 'worker id must not be empty');
    const now = this.now();
    const address = addressOf(req.address);
    const known = this.state.getWorker(id);
    // A draining worker that reconnects keeps draining; a DECOMMISSIONED one started again
    // joins as any worker does.
    const draining = known?.state === 'DECOMMISSIONING';
    const worker: WorkerInfo = {
      id,
      address,
      state: draining ? 'DECOMMISSIONING' : 'LIVE',
      last_heartbeat_ms: now,
      cache: cacheOf(req.cache),
      registered_at_ms: now,
      version: req.version ?? '',
    };
    this.state.setWorker(worker);
    const fields = { worker_id: id, address, worker_version: worker.version };
    // Only who is in the ring, and where, changes the snapshot; a LIVE worker registering
    // again at the same address (it lost its stream, or restarted quickly) does not.
    let ringChanged = true;
    if (!known) this.log.info(fields, 'worker registered');
    else if (!sameAddress(known.address, address)) this.log.info({ ...fields, old_address: known.address }, 'worker registered with a new address');
    else if (known.state === 'LOST') this.log.info(fields, 'worker back');
    else if (known.state === 'DECOMMISSIONED') this.log.info(fields, 'decommissioned worker registered again: it joins the ring');
    else {
      ringChanged = false;
      this.log.debug(fields, 'worker registered again');
    }
    await this.state.commit(`register ${id}`, { bump: ringChanged });
    return { id, heartbeat_interval_ms: this.opts.heartbeatIntervalMs };
  }

  async heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    const id = req.id ?? '';
    const known = id === '' ? undefined : this.state.getWorker(id);
    if (!known) return { reregister: true, cluster_version: this.state.clusterVersion };
    if (known.state === 'DECOMMISSIONED') return { reregister: false, cluster_version: this.state.clusterVersion, decommissioned: true };
    const wasLost = known.state === 'LOST';
    const state = known.state === 'DECOMMISSIONING' ? 'DECOMMISSIONING' : 'LIVE';
    // Heartbeats change only in-memory fields; they are persisted with the next commit.
    this.state.setWorker({ ...known, state, last_heartbeat_ms: this.now(), cache: req.cache ? cacheOf(req.cache) : known.cache });
    if (wasLost) {
      this.log.info({ worker_id: id, address: known.address, silent_ms: this.now() - known.last_heartbeat_ms }, 'worker back');
      await this.state.commit(`heartbeat ${id}`, { bump: true });
    }
    return { reregister: false, cluster_version: this.state.clusterVersion };
  }

  /** A clean leave: the worker is forgotten at once. Unknown ids are not an error (retries). */
  async unregister(id: string): Promise<void> {
    if (!id) throw new CoordinatorError('INVALID_ARGUMENT', 'worker id must not be empty');
    const known = this.state.getWorker(id);
    if (!known) {
      this.log.debug({ worker_id: id }, 'unregister of an unknown worker');
      return;
    }
    this.state.deleteWorker(id);
    this.log.info({ worker_id: id, address: known.address }, 'worker left');
    // A LOST worker was already out of the ring, but the record list still changed.
    await this.state.commit(`unregister ${id}`, { bump: true });
  }

  list(): ListWorkersResponse {
    return { workers: this.state.listWorkers(), cluster_version: this.state.clusterVersion };
  }

  /**
   * Takes a LIVE worker out of the ring for good: DECOMMISSIONING until nothing unpersisted
   * depends on it (coordinator/jobs/decommission.ts decides), then DECOMMISSIONED. Idempotent.
   */
  async decommission(id: string): Promise<WorkerInfo> {
    const known = this.state.getWorker(id);
    if (!known) throw new CoordinatorError('NOT_FOUND', `no worker ${id}; see alluxio worker list`);
    if (known.state === 'DECOMMISSIONING' || known.state === 'DECOMMISSIONED') return known;
    if (known.state === 'LOST') throw new CoordinatorError('FAILED_PRECONDITION', `worker ${id} is LOST: it cannot hand over anything; its objects were taken over when it was lost`);
    const others = this.state.listWorkers().filter((w) => w.state === 'LIVE' && w.id !== id);
    if (others.length === 0) throw new CoordinatorError('FAILED_PRECONDITION', `worker ${id} is the last live worker: nothing could take over its keys`);
    const next: WorkerInfo = { ...known, state: 'DECOMMISSIONING' };
    this.state.setWorker(next);
    this.log.info({ worker_id: id, address: known.address }, 'worker decommissioning: out of the ring');
    await this.state.commit(`decommission ${id}`, { bump: true });
    return next;
  }

  /** The end of a decommission: the worker is told to leave at its next heartbeat. */
  async completeDecommission(id: string): Promise<void> {
    const known = this.state.getWorker(id);
    if (known?.state !== 'DECOMMISSIONING') return;
    this.state.setWorker({ ...known, state: 'DECOMMISSIONED' });
    this.log.info({ worker_id: id }, 'worker decommissioned');
    await this.state.commit(`decommissioned ${id}`, { bump: true });
  }

  /**
   * Marks every LIVE (or draining) worker silent for longer than the timeout LOST, as one
   * change; a DECOMMISSIONED worker that went away without unregistering is forgotten.
   */
  async detectLost(): Promise<void> {
    const now = this.now();
    let lost = 0;
    let forgotten = 0;
    for (const w of this.state.listWorkers()) {
      if (now - w.last_heartbeat_ms <= this.opts.workerTimeoutMs) continue;
      if (w.state === 'DECOMMISSIONED') {
        this.state.deleteWorker(w.id);
        this.log.info({ worker_id: w.id }, 'decommissioned worker gone: forgotten');
        forgotten += 1;
        continue;
      }
      if (w.state !== 'LIVE' && w.state !== 'DECOMMISSIONING') continue;
      this.state.setWorker({ ...w, state: 'LOST' });
      this.log.warn({ worker_id: w.id, address: w.address, silent_ms: now - w.last_heartbeat_ms, was: w.state }, 'worker lost');
      lost += 1;
    }
    if (lost > 0) await this.state.commit(`${lost} worker(s) lost`, { bump: true });
    else if (forgotten > 0) await this.state.commit(`${forgotten} decommissioned worker(s) forgotten`, { bump: false });
    else if (this.state.hasUnpublished()) await this.state.commit('retry after a failed save', { bump: false });
  }
}
