/**
 * `alluxio fs free PATH`: every worker that may hold pages (LIVE and draining ones) drops the
 * cached pages of the objects under PATH. Unpersisted write-cache data is never freed (it is not
 * in the page cache, and it is the only copy of an acknowledged write): the objects under PATH
 * that still have a write-cache entry are counted and reported as skipped.
 */
import type { Logger } from '../../common/log.js';
import type { Metastore } from '../../common/metastore/types.js';
import { allEntries } from '../../common/metastore/write-entries.js';
import { coveredBy, NamespacePathError, normalizeNamespacePath } from '../../common/namespace-path.js';
import type { FreeResponse } from '../../proto/index.js';
import type { ClusterState } from '../cluster-state.js';
import { CoordinatorError } from '../errors.js';
import type { WorkerPeers } from './worker-peers.js';

export async function freePath(deps: { state: ClusterState; metastore: Metastore; peers: WorkerPeers; log: Logger }, rawPath: string): Promise<FreeResponse> {
  let path: string;
  try {
    path = normalizeNamespacePath(rawPath ?? '');
  } catch (err) {
    if (err instanceof NamespacePathError) throw new CoordinatorError('INVALID_ARGUMENT', err.message);
    throw err;
  }
  const workers = deps.state.listWorkers().filter((w) => w.state === 'LIVE' || w.state === 'DECOMMISSIONING');
  const out: FreeResponse = { objects: 0, pages: 0, bytes: 0, unpersisted_skipped: 0, workers: [], unreachable: [] };
  await Promise.all(workers.map(async (w) => {
    try {
      const r = await deps.peers.freePrefix(w, path);
      out.objects += Number(r.objects);
      out.pages += Number(r.pages);
      out.bytes += Number(r.bytes);
      out.workers.push(w.id);
    } catch (err) {
      deps.log.warn({ worker_id: w.id, path, err: (err as Error).message }, 'a worker could not free its pages');
      out.unreachable.push(w.id);
    }
  }));
  const entries = await allEntries(deps.metastore);
  out.unpersisted_skipped = entries.filter((e) => !e.deleted && coveredBy(e.path, path)).length;
  out.workers.sort();
  out.unreachable.sort();
  deps.log.info({ path, objects: out.objects, pages: out.pages, bytes: out.bytes, unpersisted_skipped: out.unpersisted_skipped, unreachable: out.unreachable }, 'freed a path');
  return out;
}
