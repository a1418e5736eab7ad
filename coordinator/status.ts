/**
 * The cluster at a glance, as the coordinator knows it: what `GET /api/v1/status` answers, the
 * status page draws and the coordinator's gauges report. Members and their cache usage come
 * from registration and heartbeats; ring shares from the same ring code every worker runs;
 * pinned bytes and the persistence backlog from the write cache's entries in the metastore
 * (the coordinator never asks a worker).
 */
import type { WorkerState } from '../proto/index.js';
import type { WriteEntry } from '../common/metastore/write-entries.js';
import { Ring } from '../common/ring.js';
import type { ClusterState } from './cluster-state.js';
import type { Membership } from './membership.js';
import type { MountTable } from './mount-table.js';
import type { PathConfigStore } from './path-config-store.js';

export interface WorkerStatus {
  id: string;
  state: WorkerState;
  host: string;
  s3Port: number;
  rpcPort: number;
  webPort: number;
  version: string;
  lastHeartbeatMs: number;
  registeredAtMs: number;
  cache: { usedBytes: number; capacityBytes: number; pages: number };
  /** Fraction of the hash ring this worker owns (0 when it is not LIVE). */
  ringShare: number;
  /** Unpersisted write-cache bytes and objects it holds (as writer or replica), per the metastore. */
  pinnedBytes: number;
  pinnedObjects: number;
  /** WRITE_BACK objects it is to persist. */
  persistQueue: number;
}

export interface PersistenceStatus {
  /** False when the metastore could not be read; `error` says why. */
  available: boolean;
  error?: string;
  unpersisted: number;
  transient: number;
  failing: number;
  /** Bytes of WRITE_BACK objects not yet persisted (deletes not counted). */
  pendingBytes: number;
  oldestUnpersistedAgeMs: number;
  byState: Record<string, number>;
}

export interface ClusterStatus {
  generatedAtMs: number;
  clusterVersion: number;
  writeCacheEnabled: boolean;
  /** Workers per state; every state is present, 0 when none. */
  membersByState: Record<WorkerState, number>;
  workers: WorkerStatus[];
  mounts: { path: string; ufsUri: string; readOnly: boolean; options: Record<string, string> }[];
  pathConfig: { version: number; document: unknown };
  persistence: PersistenceStatus;
}

export interface StatusDeps {
  state: ClusterState;
  membership: Membership;
  mounts: MountTable;
  pathConfig: PathConfigStore;
  /** Every write-cache entry (the metastore); absent where no metastore is served. */
  entries?: () => Promise<WriteEntry[]>;
}

/** Keys sampled to measure ring shares: enough for a share to within a fraction of a percent. */
const RING_SAMPLES = 20_000;
/** Concurrent viewers and a scrape within this window share one computation. */
const REUSE_MS = 250;

/** Fraction of `RING_SAMPLES` sample paths each member owns on the ring of `memberIds`. */
export function ringShares(memberIds: readonly string[], samples = RING_SAMPLES): Map<string, number> {
  const ring = new Ring(memberIds);
  const counts = new Map<string, number>();
  if (ring.size === 0) return counts;
  for (let i = 0; i < samples; i++) {
    const o = ring.owner(`/ring-share-sample/${i}`)!;
    counts.set(o, (counts.get(o) ?? 0) + 1);
  }
  return new Map([...counts].map(([id, n]) => [id, n / samples]));
}

export class StatusView {
  private shares: { key: string; shares: Map<string, number> } | undefined;
  private recent: { at: number; status: Promise<ClusterStatus> } | undefined;

  constructor(private readonly deps: StatusDeps, private readonly now: () => number = Date.now) {}

  status(): Promise<ClusterStatus> {
    const at = this.now();
    if (this.recent && at - this.recent.at < REUSE_MS) return this.recent.status;
    const status = this.compute(at);
    this.recent = { at, status };
    return status;
  }

  /** Ring shares of the LIVE members, recomputed only when the member set changes. */
  private ringShares(liveIds: string[]): Map<string, number> {
    const key = liveIds.join('\0');
    if (this.shares?.key !== key) this.shares = { key, shares: ringShares(liveIds) };
    return this.shares.shares;
  }

  private async compute(at: number): Promise<ClusterStatus> {
    const { state, membership, mounts, pathConfig } = this.deps;
    const persistence = await this.persistence(at);
    const { workers, cluster_version } = membership.list();
    const live = workers.filter((w) => w.state === 'LIVE').map((w) => w.id).sort();
    const shares = this.ringShares(live);
    const doc = pathConfig.get();
    return {
      generatedAtMs: at,
      clusterVersion: cluster_version,
      writeCacheEnabled: state.isWriteCacheEnabled,
      membersByState: countByState(workers),
      workers: workers.map((w) => ({
        id: w.id,
        state: w.state,
        host: w.address.host,
        s3Port: w.address.s3_port,
        rpcPort: w.address.rpc_port,
        webPort: w.address.web_port ?? 0,
        version: w.version,
        lastHeartbeatMs: w.last_heartbeat_ms,
        registeredAtMs: w.registered_at_ms,
        cache: { usedBytes: w.cache.used_bytes, capacityBytes: w.cache.capacity_bytes, pages: w.cache.pages },
        ringShare: w.state === 'LIVE' ? shares.get(w.id) ?? 0 : 0,
        pinnedBytes: persistence.pinned.get(w.id)?.bytes ?? 0,
        pinnedObjects: persistence.pinned.get(w.id)?.objects ?? 0,
        persistQueue: persistence.queues.get(w.id) ?? 0,
      })),
      mounts: mounts.list().map((m) => ({ path: m.path, ufsUri: m.ufs_uri, readOnly: m.read_only, options: m.options ?? {} })),
      pathConfig: { version: doc.version, document: JSON.parse(doc.json) as unknown },
      persistence: persistence.summary,
    };
  }

  private async persistence(at: number): Promise<{ summary: PersistenceStatus; pinned: Map<string, { bytes: number; objects: number }>; queues: Map<string, number> }> {
    const summary: PersistenceStatus = { available: true, unpersisted: 0, transient: 0, failing: 0, pendingBytes: 0, oldestUnpersistedAgeMs: 0, byState: {} };
    const pinned = new Map<string, { bytes: number; objects: number }>();
    const queues = new Map<string, number>();
    if (!this.deps.entries) return { summary: { ...summary, available: false, error: 'no metastore is served here' }, pinned, queues };
    let entries: WriteEntry[];
    try {
      entries = await this.deps.entries();
    } catch (err) {
      return { summary: { ...summary, available: false, error: (err as Error).message }, pinned, queues };
    }
    for (const e of entries) {
      const st = e.deleted ? `${e.state} (delete)` : e.state;
      summary.byState[st] = (summary.byState[st] ?? 0) + 1;
      if (e.policy === 'TRANSIENT') summary.transient += 1;
      else {
        summary.unpersisted += 1;
        if (e.lastError) summary.failing += 1;
        summary.oldestUnpersistedAgeMs = Math.max(summary.oldestUnpersistedAgeMs, at - e.createdMs);
        queues.set(e.persister, (queues.get(e.persister) ?? 0) + 1);
      }
      if (e.deleted) continue;
      if (e.policy === 'WRITE_BACK') summary.pendingBytes += e.size;
      for (const h of e.holders) {
        const p = pinned.get(h) ?? { bytes: 0, objects: 0 };
        p.bytes += e.size;
        p.objects += 1;
        pinned.set(h, p);
      }
    }
    return { summary, pinned, queues };
  }
}

function countByState(workers: readonly { state: WorkerState }[]): Record<WorkerState, number> {
  const counts: Record<WorkerState, number> = { LIVE: 0, LOST: 0, DECOMMISSIONING: 0, DECOMMISSIONED: 0 };
  for (const w of workers) counts[w.state] += 1;
  return counts;
}
