/**
 * The coordinator's in-memory state (mounts, known workers, bucket tags, path-level write
 * policies, cluster version) and the one way to change it: mutate, then `commit`. A commit
 * persists the whole document and, for a membership, mount or path-config change, bumps the
 * version and publishes a new snapshot. Rules about
 * what may change live in membership.ts and mount-table.ts; this module only keeps the data
 * consistent and durable.
 */
import type { Logger } from '../common/log.js';
import { defaultPathConfig, serializePathConfig, type PathConfig } from '../common/path-config.js';
import type { ClusterSnapshot, MountInfo, WorkerInfo } from '../proto/index.js';
import { STATE_FORMAT, type StateDocument, type StateStore, type StoredBucketPermissions } from './state-store.js';

export type SnapshotListener = (snapshot: ClusterSnapshot) => void;

export interface ClusterStateOptions {
  /** The clock for the fresh heartbeat of reloaded LIVE workers (tests). */
  now?: number;
  /** `alluxio.write.cache.enabled`, carried to workers in every snapshot. */
  writeCacheEnabled?: boolean;
}

/** The path-level write policies as kept: validated document, its pretty JSON, its own version. */
export interface PathConfigEntry {
  readonly config: PathConfig;
  readonly json: string;
  readonly version: number;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function pathConfigEntry(config: PathConfig, version: number): PathConfigEntry {
  const copy = deepFreeze(structuredClone(config));
  return Object.freeze({ config: copy, json: serializePathConfig(copy), version });
}

export class ClusterState {
  private readonly mounts = new Map<string, MountInfo>();
  private readonly workers = new Map<string, WorkerInfo>();
  private readonly bucketTags = new Map<string, Record<string, string>>();
  private readonly bucketPermissions = new Map<string, StoredBucketPermissions>();
  private pathConfig: PathConfigEntry;
  private readonly writeCacheEnabled: boolean;
  private version: number;
  private published: ClusterSnapshot;
  private readonly listeners = new Set<SnapshotListener>();

  private constructor(private readonly store: StateStore, private readonly log: Logger, loaded: StateDocument | null, root: MountInfo, now: number, writeCacheEnabled: boolean) {
    for (const m of loaded?.mounts ?? []) if (m.path !== '/') this.mounts.set(m.path, m);
    // The root mount comes from the configuration on every start, never from the file.
    this.mounts.set('/', root);
    for (const w of loaded?.workers ?? []) {
      // A LIVE worker gets a fresh heartbeat so the ring does not churn while workers
      // reconnect; if it never comes back the lost-worker timer marks it LOST later.
      this.workers.set(w.id, w.state === 'LIVE' || w.state === 'DECOMMISSIONING' ? { ...w, last_heartbeat_ms: now } : w);
    }
    for (const [bucket, tags] of Object.entries(loaded?.bucketTags ?? {})) this.bucketTags.set(bucket, tags);
    for (const [bucket, perms] of Object.entries(loaded?.bucketPermissions ?? {})) this.bucketPermissions.set(bucket, perms);
    // Files written before path configs have none: the built-in default is version 1.
    this.pathConfig = pathConfigEntry(loaded?.pathConfig?.document ?? defaultPathConfig(), loaded?.pathConfig?.version ?? 1);
    this.writeCacheEnabled = writeCacheEnabled;
    this.version = loaded?.version ?? 0;
    this.published = this.snapshot();
  }

  /**
   * Loads the stored state (a corrupt file throws), applies the root mount and bumps the
   * version once, so every snapshot after a restart is newer than anything a worker saw.
   */
  static async open(store: StateStore, root: MountInfo, log: Logger, opts: number | ClusterStateOptions = {}): Promise<ClusterState> {
    const { now = Date.now(), writeCacheEnabled = false } = typeof opts === 'number' ? { now: opts } : opts;
    const loaded = await store.load();
    const state = new ClusterState(store, log, loaded, root, now, writeCacheEnabled);
    log.info(
      {
        file: store.file,
        loaded_version: loaded?.version ?? null,
        mounts: state.mounts.size,
        workers: state.workers.size,
        path_config_version: state.pathConfig.version,
        path_rules: state.pathConfig.config.rules.length,
        write_cache_enabled: writeCacheEnabled,
      },
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

  getBucketPermissions(bucket: string): StoredBucketPermissions | undefined {
    return this.bucketPermissions.get(bucket);
  }

  listBucketPermissions(): [string, StoredBucketPermissions][] {
    return [...this.bucketPermissions.entries()].sort(([a], [b]) => a.localeCompare(b));
  }

  /** Sets (or, with undefined, removes) a bucket's owner and grants; commit without a bump to persist. */
  setBucketPermissions(bucket: string, perms: StoredBucketPermissions | undefined): void {
    if (perms === undefined) this.bucketPermissions.delete(bucket);
    else this.bucketPermissions.set(bucket, perms);
  }

  /** The path-level write policies (frozen: replace them with setPathConfig). */
  getPathConfig(): PathConfigEntry {
    return this.pathConfig;
  }

  /** Replaces the (already validated) path config; commit with a bump to persist and publish. */
  setPathConfig(config: PathConfig, version: number): PathConfigEntry {
    this.pathConfig = pathConfigEntry(config, version);
    return this.pathConfig;
  }

  get isWriteCacheEnabled(): boolean {
    return this.writeCacheEnabled;
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

  /** The newest durable snapshot: LIVE members sorted by id, every mount with options in clear, the path config. */
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
      path_config: { json: this.pathConfig.json, version: this.pathConfig.version },
      write_cache_enabled: this.writeCacheEnabled,
      draining: this.listWorkers().filter((w) => w.state === 'DECOMMISSIONING'),
    });
  }

  private document(): StateDocument {
    return {
      format: STATE_FORMAT,
      version: this.version,
      mounts: this.listMounts(),
      workers: this.listWorkers(),
      bucketTags: Object.fromEntries(this.bucketTags),
      bucketPermissions: Object.fromEntries(this.bucketPermissions),
      pathConfig: { version: this.pathConfig.version, document: this.pathConfig.config },
    };
  }
}
