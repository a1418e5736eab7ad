/**
 * The worker's view of the cluster: the member list and mount table last pushed by the
 * coordinator, and the ring built from the members. Swapped atomically per snapshot; within
 * one watch stream older versions are ignored, and the first snapshot of a new stream is taken
 * as it is (the coordinator is the authority, even one whose state was reset).
 */
import { EventEmitter } from 'node:events';
import type { ClusterSnapshot, MountInfo, WorkerInfo } from '../../proto/index.js';
import { Ring } from '../../common/ring.js';

export interface ViewChange {
  version: number;
  membersChanged: boolean;
  mountsChanged: boolean;
}

export class ClusterView extends EventEmitter<{ change: [ViewChange] }> {
  version = -1;
  members: ReadonlyMap<string, WorkerInfo> = new Map();
  /** DECOMMISSIONING workers: out of the ring, still serving the write-cache copies they hold. */
  draining: ReadonlyMap<string, WorkerInfo> = new Map();
  mounts: readonly MountInfo[] = [];
  ring = new Ring([]);
  /** The path-level write policies (JSON) and whether the write cache is on, from the coordinator. */
  pathConfig: { json: string; version: number } | null = null;
  writeCacheEnabled = false;

  apply(snapshot: ClusterSnapshot, firstOfStream: boolean): boolean {
    if (!firstOfStream && snapshot.version <= this.version) return false;
    const members = new Map(snapshot.members.map((m) => [m.id, m]));
    const membersChanged = [...members.keys()].sort().join(',') !== [...this.members.keys()].sort().join(',')
      || snapshot.members.some((m) => JSON.stringify(m.address) !== JSON.stringify(this.members.get(m.id)?.address));
    const mountsChanged = JSON.stringify(snapshot.mounts) !== JSON.stringify(this.mounts);
    this.version = snapshot.version;
    this.members = members;
    this.draining = new Map((snapshot.draining ?? []).map((m) => [m.id, m]));
    this.mounts = snapshot.mounts;
    this.pathConfig = snapshot.path_config ?? null;
    this.writeCacheEnabled = snapshot.write_cache_enabled === true;
    if (membersChanged) this.ring = new Ring(members.keys());
    this.emit('change', { version: snapshot.version, membersChanged, mountsChanged });
    return true;
  }

  /** A worker that can still be asked for its copies: a member of the ring or a draining one. */
  reachable(id: string): WorkerInfo | undefined {
    return this.members.get(id) ?? this.draining.get(id);
  }

  ownerOf(path: string): WorkerInfo | undefined {
    const id = this.ring.owner(path);
    return id === undefined ? undefined : this.members.get(id);
  }
}
