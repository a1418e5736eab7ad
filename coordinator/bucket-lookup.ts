/**
 * Whether a bucket exists, as the coordinator can tell without a worker: a mount point, or a
 * directory at the top of the root mount (a sub-directory bucket "a:b" is b/ inside a). Used
 * so that granting on a misspelt bucket fails instead of recording a grant nobody can use.
 */
import type { Config } from '../common/config/config.js';
import { MOUNT_OPTION_KEYS } from '../common/config/registry.js';
import { createUfs } from '../common/ufs/index.js';
import type { ClusterState } from './cluster-state.js';

export function bucketLookup(state: ClusterState, config: Config, stagingDir: string): (bucket: string) => Promise<boolean> {
  return async (bucket) => {
    const [first, ...rest] = bucket.split(':');
    const sub = rest.length ? `${rest.join('/')}/` : '';
    const mount = state.getMount(`/${first}`);
    if (mount && sub === '') return true;
    const target = mount ?? state.getMount('/');
    if (!target) return false;
    const options: Record<string, string> = {};
    for (const key of MOUNT_OPTION_KEYS) {
      const v = config.raw(key);
      if (v !== '') options[key] = v;
    }
    Object.assign(options, target.options);
    const ufs = createUfs(target.ufs_uri, { options, stagingDir });
    try {
      return (await ufs.stat(mount ? sub : `${first}/${sub}`)) !== null;
    } finally {
      await ufs.close().catch(() => undefined);
    }
  };
}
