/**
 * The objects under a namespace path, listed straight from the UFS that backs it, as the
 * workers resolve buckets: `/name` is a mount point (its UFS root holds the keys) or a
 * directory of the root mount. The coordinator opens the UFS with the same options a worker
 * would (config defaults, then the mount's options) for the length of one listing.
 */
import type { Config } from '../../common/config/config.js';
import { MOUNT_OPTION_KEYS } from '../../common/config/registry.js';
import { coveredBy, splitNamespacePath } from '../../common/namespace-path.js';
import { createUfs } from '../../common/ufs/index.js';
import type { ClusterState } from '../cluster-state.js';
import { CoordinatorError } from '../errors.js';

export interface ListedObject {
  /** The namespace path, /bucket/key. */
  path: string;
  size: number;
}

const PAGE = 1000;

/**
 * Every object (folder objects left out) covered by `path`, in key order, page by page.
 * `signal` stops the listing between pages.
 */
export async function* listNamespace(state: ClusterState, config: Config, stagingDir: string, path: string, signal: AbortSignal): AsyncGenerator<ListedObject[]> {
  const { bucket, rest } = splitNamespacePath(path);
  const mount = state.getMount(`/${bucket}`);
  const root = state.getMount('/');
  const m = mount ?? root;
  if (!m) throw new CoordinatorError('FAILED_PRECONDITION', 'no root mount');
  const base = mount ? '' : `${bucket}/`;
  const toPath = (ufsKey: string) => (mount ? `/${bucket}/${ufsKey}` : `/${ufsKey}`);
  const options: Record<string, string> = {};
  for (const key of MOUNT_OPTION_KEYS) {
    const v = config.raw(key);
    if (v !== '') options[key] = v;
  }
  const ufs = createUfs(m.ufs_uri, { options: { ...options, ...m.options }, stagingDir });
  try {
    if (!mount) {
      const st = await ufs.stat(base);
      if (!st) throw new CoordinatorError('NOT_FOUND', `bucket ${bucket} does not exist`);
    }
    const prefix = base + rest;
    let startAfter: string | undefined;
    for (;;) {
      signal.throwIfAborted();
      const page = await ufs.list({ prefix, startAfter, maxKeys: PAGE });
      const objects = page.objects
        .filter((o) => !o.isDirectory && !o.key.endsWith('/'))
        .map((o) => ({ path: toPath(o.key), size: o.size }))
        .filter((o) => coveredBy(o.path, path));
      if (objects.length) yield objects;
      if (!page.isTruncated || page.lastKey === undefined) return;
      startAfter = page.lastKey;
    }
  } finally {
    await ufs.close().catch(() => undefined);
  }
}
