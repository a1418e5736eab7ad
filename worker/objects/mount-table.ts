/**
 * The worker's copy of the coordinator's mount table, with one live UFS client per mount.
 * Buckets are the top-level directories of the namespace: a mount point `/name` is the bucket
 * `name` (its UFS root holds the keys); any other bucket is a directory under the root mount
 * (its keys live under `name/` in the root UFS).
 */
import type { MountInfo } from '../../proto/index.js';
import { MOUNT_OPTION_KEYS } from '../../common/config/registry.js';
import type { Config } from '../../common/config/config.js';
import { createUfs, type UnderFileSystem } from '../../common/ufs/index.js';
import { CountingUfs, newUfsCounters, type UfsCounters, type UfsObserver } from '../../common/ufs/counting.js';
import type { Logger } from '../../common/log.js';
import { isSafeSegment, PathEscapeError } from '../../common/safe-path.js';

export interface ResolvedBucket {
  bucket: string;
  ufs: UnderFileSystem;
  /** Prefix of this bucket's keys inside the UFS: "name/" under the root mount, "" for a mount point. */
  prefix: string;
  readOnly: boolean;
  isMountPoint: boolean;
}

interface Mounted {
  info: MountInfo;
  ufs: UnderFileSystem;
  signature: string;
}

export class MountTable {
  private mounts = new Map<string, Mounted>();
  /** UFS operations of every mount this worker has served, summed. */
  readonly counters: UfsCounters = newUfsCounters();

  constructor(private readonly config: Config, private readonly stagingDir: string, private readonly log: Logger, private readonly ufsObserver?: UfsObserver) {}

  /** Applies a new table: new or changed mounts get a fresh client; removed ones are closed. */
  update(infos: MountInfo[]): void {
    const next = new Map<string, Mounted>();
    for (const info of infos) {
      const signature = JSON.stringify([info.ufs_uri, info.read_only, Object.entries(info.options ?? {}).sort()]);
      const old = this.mounts.get(info.path);
      if (old && old.signature === signature) {
        next.set(info.path, old);
        continue;
      }
      try {
        const ufs = new CountingUfs(createUfs(info.ufs_uri, { options: this.ufsOptions(info), stagingDir: this.stagingDir }), this.counters, this.ufsObserver);
        next.set(info.path, { info, ufs, signature });
        this.log.info({ mount: { path: info.path, ufs_uri: info.ufs_uri, read_only: info.read_only } }, 'mount active');
      } catch (err) {
        this.log.error({ err, mount: { path: info.path, ufs_uri: info.ufs_uri } }, 'cannot open mount');
      }
    }
    for (const [p, old] of this.mounts) {
      if (next.get(p) !== old) {
        void old.ufs.close();
        if (!next.has(p)) this.log.info({ mount: { path: p } }, 'mount removed');
      }
    }
    this.mounts = next;
  }

  private ufsOptions(info: MountInfo): Record<string, string> {
    const opts: Record<string, string> = {};
    for (const k of MOUNT_OPTION_KEYS) {
      const v = this.config.raw(k);
      if (v !== '') opts[k] = v;
    }
    return { ...opts, ...(info.options ?? {}) };
  }

  get ready(): boolean {
    return this.mounts.has('/');
  }

  root(): Mounted | undefined {
    return this.mounts.get('/');
  }

  /** Names of the buckets that are mount points. */
  mountPointBuckets(): string[] {
    return [...this.mounts.keys()].filter((p) => p !== '/').map((p) => p.slice(1));
  }

  /**
   * A bucket name's UFS and key prefix. "a:b:c" (a sub-directory bucket, seed 003) is the
   * directory b/c of mount /a when /a is a mount point, else a/b/c/ of the root mount.
   */
  resolve(bucket: string): ResolvedBucket | undefined {
    const [first, ...rest] = bucket.split(':');
    // Each part names one directory: nothing a bucket name says may climb out of a mount.
    if (![first, ...rest].every(isSafeSegment)) throw new PathEscapeError(`bucket name ${JSON.stringify(bucket)} is not a safe directory name`);
    const sub = rest.length ? `${rest.join('/')}/` : '';
    const m = this.mounts.get(`/${first}`);
    if (m) return { bucket, ufs: m.ufs, prefix: sub, readOnly: m.info.read_only, isMountPoint: sub === '' };
    const root = this.mounts.get('/');
    if (!root) return undefined;
    return { bucket, ufs: root.ufs, prefix: `${first}/${sub}`, readOnly: root.info.read_only, isMountPoint: false };
  }

  async close(): Promise<void> {
    await Promise.all([...this.mounts.values()].map((m) => m.ufs.close()));
    this.mounts.clear();
  }
}
