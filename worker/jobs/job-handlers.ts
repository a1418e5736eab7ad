/**
 * The worker's side of the coordinator's operations, served on the peer gRPC port:
 *
 * - `LoadKeys`: one batch of a preload job. Each path this worker owns is read whole through the
 *   page cache (a cache fill: pages already cached cost no UFS read), a bounded number at a time;
 *   every path gets its own result, so one missing key never fails the batch.
 * - `FreePrefix`: drops the cached pages of every object under a path. Only the page cache is
 *   touched: unpersisted write-cache data lives in the pinned write store and is never freed.
 */
import { coveredBy, normalizeNamespacePath, splitNamespacePath } from '../../common/namespace-path.js';
import type { Logger } from '../../common/log.js';
import type { FreePrefixRequest, FreePrefixResponse, LoadKeyResult, LoadKeysRequest, LoadKeysResponse } from '../../proto/index.js';
import { grpc } from '../../proto/index.js';
import type { PageStore } from '../cache/page-store.js';
import type { ClusterView } from '../cluster/cluster-view.js';
import { ObjectError } from '../objects/errors.js';
import type { ObjectStore } from '../objects/object-store.js';

export interface JobHandlerDeps {
  selfId: string;
  view: ClusterView;
  objects: ObjectStore;
  pages: PageStore;
  /** Objects one LoadKeys call loads at the same time (alluxio.worker.job.load.concurrency). */
  concurrency: number;
  log: Logger;
}

/** Loads one object into the page cache; never throws (the failure is the result). */
async function loadOne(deps: JobHandlerDeps, path: string, signal: AbortSignal): Promise<LoadKeyResult> {
  const owner = deps.view.ring.owner(path);
  // The coordinator's ring and ours may differ for a moment: caching a path we do not own
  // would be wasted, so the coordinator sends it again to the owner it sees next.
  if (owner !== deps.selfId) return { path, status: 'NOT_OWNER', bytes: 0, reason: owner ? `owned by ${owner}` : 'this worker has no ring yet' };
  let bucket: string;
  let key: string;
  try {
    ({ bucket, rest: key } = splitNamespacePath(normalizeNamespacePath(path)));
    if (key === '' || key.endsWith('/')) throw new Error('not an object path');
  } catch (err) {
    return { path, status: 'FAILED', bytes: 0, reason: `invalid path: ${(err as Error).message}` };
  }
  try {
    // Straight from the UFS (or the write cache): a key deleted since it was listed fails here.
    const status = await deps.objects.statObject(bucket, key, { useCache: false });
    if (status.isDirectory) return { path, status: 'LOADED', bytes: 0, reason: '' };
    let bytes = 0;
    if (status.size > 0) {
      for await (const chunk of deps.objects.readObject(bucket, key, status, { start: 0, end: status.size - 1 }, { useCache: true, signal })) bytes += chunk.length;
    }
    return { path, status: 'LOADED', bytes, reason: '' };
  } catch (err) {
    if (signal.aborted) return { path, status: 'FAILED', bytes: 0, reason: 'cancelled' };
    const reason = err instanceof ObjectError ? `${err.code}: ${err.message}` : (err as Error).message;
    deps.log.info({ path, reason }, 'load of an object failed');
    return { path, status: 'FAILED', bytes: 0, reason };
  }
}

async function loadBatch(deps: JobHandlerDeps, paths: readonly string[], signal: AbortSignal): Promise<LoadKeyResult[]> {
  const results: LoadKeyResult[] = new Array(paths.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < paths.length && !signal.aborted) {
      const i = next++;
      results[i] = await loadOne(deps, paths[i], signal);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, paths.length)) }, lane));
  return results.filter(Boolean);
}

/** Handlers for PeerServer (the WorkerPeer service's LoadKeys and FreePrefix). */
export function jobHandlers(deps: JobHandlerDeps): grpc.UntypedServiceImplementation {
  return {
    LoadKeys: (call: grpc.ServerUnaryCall<LoadKeysRequest, LoadKeysResponse>, cb: grpc.sendUnaryData<LoadKeysResponse>) => {
      // A stopped job cancels its calls: no new object is started after that.
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      const paths = call.request.paths ?? [];
      loadBatch(deps, paths, abort.signal).then(
        (results) => cb(null, { results }),
        (err) => cb({ code: grpc.status.INTERNAL, details: (err as Error).message }),
      );
    },
    FreePrefix: (call: grpc.ServerUnaryCall<FreePrefixRequest, FreePrefixResponse>, cb: grpc.sendUnaryData<FreePrefixResponse>) => {
      let prefix: string;
      try {
        prefix = normalizeNamespacePath(call.request.prefix ?? '');
      } catch (err) {
        cb({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
        return;
      }
      deps.pages.invalidateMatching((k) => coveredBy(k, prefix)).then(
        (r) => {
          deps.log.info({ prefix, objects: r.keys, pages: r.pages, bytes: r.bytes }, 'freed cached pages');
          cb(null, { objects: r.keys, pages: r.pages, bytes: r.bytes });
        },
        (err) => cb({ code: grpc.status.INTERNAL, details: (err as Error).message }),
      );
    },
  };
}
