/**
 * The coordinator's in-memory state (mounts, known workers, cluster version) and the one way
 * to change it: mutate, then `commit`. A commit persists the whole document and, for a
 * membership or mount change, bumps the version and publishes a new snapshot. Rules about
 * what may change live in membership.ts and mount-table.ts; this module only keeps the data
 * consistent and durable.
 */
import type { Logger } from '../common/log.js';
import type { ClusterSnapshot, MountInfo, WorkerInfo } from '../proto/index.js';
import { STATE_FORMAT, type StateDocument, type StateStore } from './state-store.js';

export type SnapshotListener = (snapshot: ClusterSnapshot) => void;

export class ClusterState {
  private readonly mounts = new Map<string, MountInfo>();
  private readonly workers = new Map<string, WorkerInfo>();
  private readonly bucketTags = new Map<string, Record<string, string>>();
  private version: number;
  private published: ClusterSnapshot;
  private readonly listeners = new Set<SnapshotListener>();

  private constructor(private readonly store: StateStore, private readonly log: Logger, loaded: StateDocument | null, root: MountInfo, now: number) {
    for (const m of loaded?.mounts ?? []) if (m.path !== '/') this.mounts.set(m.path, m);
    // The root mount comes from the configuration on every start, never from the file.
    this.mounts.set('/', root);
    for (const w of loaded?.workers ?? []) {
      // A LIVE worker gets a fresh heartbeat so the ring does not churn while workers
      // reconnect; if it never comes back the lost-worker timer marks it LOST later.
      this.workers.set(w.id, w.state === 'LIVE' ? { ...w, last_heartbeat_ms: now } : w);
    }
    for (const [bucket, tags] of Object.entries(loaded?.bucketTags ?? {})) this.bucketTags.set(bucket, tags);
    this.version = loaded?.version ?? 0;
    this.published = this.snapshot();
  }

  /**
   * Loads the stored state (a corrupt file throws), applies the root mount and bumps the
   * version once, so every snapshot after a restart is newer than anything a worker saw.
   */
  static async open(store: StateStore, root: MountInfo, log: Logger, now = Date.now()): Promise<ClusterState> {
    const loaded = await store.load();
    const state = new ClusterState(store, log, loaded, root, now);
    log.info(
      { file: store.file, loaded_version: loaded?.version ?? null, mounts: state.mounts.size, workers: state.workers.size },
      loaded ? 'cluster state loaded' : 'no stored cluster state: starting empty',
    );
    await state.commit('coordinator start', { bump: true });
    return state;
  }

  get clusterVersion(): number {
    return this.version;
  }

  getMount(path: string): MountInfo | undefined {
    return this.mounts.get(path);
  }

  listMounts(): MountInfo[] {
    return [...this.mounts.values()].sort((a, b) => a.path.localeCompare(b.path));
  }

  setMount(mount: MountInfo): void {
    this.mounts.set(mount.path, mount);
  }

  deleteMount(path: string): boolean {
    return this.mounts.delete(path);
  }

  getWorker(id: string): WorkerInfo | undefined {
    return this.workers.get(id);
  }

  listWorkers(): WorkerInfo[] {
    return [...this.workers.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  setWorker(worker: WorkerInfo): void {
    this.workers.set(worker.id, worker);
  }

  deleteWorker(id: string): boolean {
    return this.workers.delete(id);
  }

  getBucketTags(bucket: string): Record<string, string> | undefined {
    return this.bucketTags.get(bucket);
  }

  /** Sets (or, with undefined, removes) a bucket's tag set; commit without a bump to persist. */
  setBucketTags(bucket: string, tags: Record<string, string> | undefined): void {
    if (tags === undefined) this.bucketTags.delete(bucket);
    else this.bucketTags.set(bucket, tags);
  }

  /**
   * Persists the current state. With `bump`, the version goes up first and the new snapshot
   * is published once the document is durable: a version a worker has seen is never reused
   * after a crash.
   */
  async commit(reason: string, opts: { bump: boolean }): Promise<void> {
    if (opts.bump) this.version += 1;
    // Also covers a bump whose save failed earlier: the next successful commit publishes it.
    const snapshot = this.version > this.published.version ? this.snapshot() : null;
    await this.store.save(this.document());
    if (!snapshot) return;
    // Saves finish in order, but guard anyway: a published version only ever goes up.
    if (snapshot.version <= this.published.version) return;
    this.published = snapshot;
    this.log.debug({ version: snapshot.version, reason }, 'cluster version bumped');
    for (const listener of this.listeners) listener(snapshot);
  }

  /** True when a change is in memory but not yet durable and published (a save failed). */
  hasUnpublished(): boolean {
    return this.version > this.published.version;
  }

  /** The newest durable snapshot: LIVE members sorted by id, every mount with options in clear. */
  publishedSnapshot(): ClusterSnapshot {
    return this.published;
  }

  onPublish(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Waits for in-flight saves (on close). */
  flush(): Promise<void> {
    return this.store.flush();
  }

  private snapshot(): ClusterSnapshot {
    return structuredClone({
      version: this.version,
      members: this.listWorkers().filter((w) => w.state === 'LIVE'),
      mounts: this.listMounts(),
    });
  }

  private document(): StateDocument {
    return { format: STATE_FORMAT, version: this.version, mounts: this.listMounts(), workers: this.listWorkers(), bucketTags: Object.fromEntries(this.bucketTags) };
  }
}
