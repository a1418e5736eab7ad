/**
 * Streaming a body into an open file with few thread-pool trips: the chunks are gathered and
 * written in calls of about WRITE_BATCH_BYTES (a small body in one call). Every file-system
 * call is a trip through libuv's thread pool, and per-chunk writes were most of a small PUT's
 * disk latency. Shared by the local UFS and the write cache's local store.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Writes all of `body` into `handle`; returns the bytes written. An abort of `signal` ends it
 * with the error `pipeline` throws on an abort (code ABORT_ERR), so callers see one kind of abort.
 */
export async function writeBody(handle: FileHandle, body: Readable, signal?: AbortSignal): Promise<number> {
  const onAbort = () => body.destroy(abortError(signal!));
  let total = 0;
  try {
    signal?.throwIfAborted();
    signal?.addEventListener('abort', onAbort, { once: true });
    let batch: Buffer[] = [];
    let bytes = 0;
    const flush = async () => {
      const buf = batch.length === 1 ? batch[0]! : Buffer.concat(batch, bytes);
      batch = [];
      bytes = 0;
      for (let off = 0; off < buf.length;) off += (await handle.write(buf, off, buf.length - off)).bytesWritten;
    };
    for await (const chunk of body as AsyncIterable<Buffer>) {
      batch.push(chunk);
      bytes += chunk.length;
      total += chunk.length;
      if (bytes >= WRITE_BATCH_BYTES) await flush();
    }
    if (bytes > 0) await flush();
    return total;
  } catch (err) {
    throw signal?.aborted ? abortError(signal) : err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason });
}
