/**
 * The main-thread side of the local UFS's listing thread: started on the first listing, it keeps
 * the process alive only while a listing is in flight, and is ended by close(). A thread that
 * dies fails the listings it held and is started again by the next one.
 */
import { Worker } from 'node:worker_threads';
import { fromWire, type ListPageWire, type ListRequest } from './local-list.js';
import { UfsError, type ListResult, type UfsErrorCode } from './types.js';

export interface ListThreadReply {
  id: number;
  result?: ListPageWire;
  error?: { message: string; ufsCode?: UfsErrorCode; errno?: string };
}

interface Pending {
  resolve: (r: ListResult) => void;
  reject: (e: unknown) => void;
}

export class ListThread {
  private worker?: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;
  /** Set by close() while it waits for the listings in flight. */
  private drained?: () => void;
  private closing?: Promise<void>;

  constructor(private readonly root: string) {}

  list(req: ListRequest): Promise<ListResult> {
    if (this.closed) return Promise.reject(new UfsError('Unavailable', 'the local UFS is closed'));
    const worker = this.worker ?? this.start();
    return new Promise<ListResult>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, req });
    });
  }

  private start(): Worker {
    const worker = new Worker(new URL('./local-list-thread.js', import.meta.url), { workerData: { root: this.root } });
    worker.unref();
    worker.on('message', (reply: ListThreadReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) {
        worker.unref();
        this.drained?.();
      }
      if (reply.error) p.reject(rebuild(reply.error));
      else p.resolve(fromWire(reply.result!));
    });
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) => this.lost(worker, new Error(`the listing thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private lost(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.failAll(new UfsError('Internal', `local UFS listing failed: ${err.message}`, { cause: err }));
  }

  private failAll(err: unknown): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
    this.drained?.();
  }

  /**
   * Refuses new listings, lets those in flight finish (a mount replaced while it lists still
   * answers), then ends the thread.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.pending.size > 0) await new Promise<void>((resolve) => { this.drained = resolve; });
      const worker = this.worker;
      this.worker = undefined;
      await worker?.terminate();
    })();
    return this.closing;
  }
}

/** A UfsError as thrown in the thread, or an errno error for the adapter to translate. */
function rebuild(e: NonNullable<ListThreadReply['error']>): Error {
  if (e.ufsCode) return new UfsError(e.ufsCode, e.message);
  const err = new Error(e.message) as NodeJS.ErrnoException;
  if (e.errno) err.code = e.errno;
  return err;
}
