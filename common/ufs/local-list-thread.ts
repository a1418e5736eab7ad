/**
 * The listing thread of one local UFS (started by local-list-client.ts): runs the synchronous
 * listing engine off the main event loop, one request at a time, and keeps its directory
 * snapshots between requests.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DirectoryLister, type ListRequest } from './local-list.js';
import { UfsError } from './types.js';
import type { ListThreadReply } from './local-list-client.js';

const port = parentPort;
if (!port) throw new Error('local-list-thread.js runs only as a worker thread');
const lister = new DirectoryLister((workerData as { root: string }).root);

port.on('message', (msg: { id: number; req: ListRequest }) => {
  let reply: ListThreadReply;
  try {
    reply = { id: msg.id, result: lister.list(msg.req) };
  } catch (err) {
    // Errors do not survive the thread boundary as classes: send what rebuilds them.
    const e = err as NodeJS.ErrnoException;
    reply = {
      id: msg.id,
      error: {
        message: e?.message ?? String(err),
        ufsCode: err instanceof UfsError ? err.code : undefined,
        errno: typeof e?.code === 'string' && !(err instanceof UfsError) ? e.code : undefined,
      },
    };
  }
  port.postMessage(reply);
});
