/**
 * The open WatchCluster streams. Each gets the current snapshot as soon as it connects, then a
 * new full snapshot after every change; changes that arrive within the batch window go out as
 * one message, so a burst of joins (a cluster starting) rebuilds each worker's ring once.
 * Transport-neutral: the gRPC service adapts its stream to a SnapshotSink.
 */
import type { Logger } from '../common/log.js';
import type { ClusterSnapshot } from '../proto/index.js';
import type { ClusterState } from './cluster-state.js';

export interface SnapshotSink {
  send(snapshot: ClusterSnapshot): void;
  end(): void;
}

interface Watcher {
  sink: SnapshotSink;
  lastSent: number;
  who: string;
}

export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly state: ClusterState, private readonly batchWindowMs: number, private readonly log: Logger) {
    this.unsubscribe = state.onPublish(() => this.schedule());
  }

  get size(): number {
    return this.watchers.size;
  }

  /** Registers a stream and sends it the current snapshot; returns the function that removes it. */
  add(sink: SnapshotSink, who: string): () => void {
    if (this.closed) {
      sink.end();
      return () => undefined;
    }
    const watcher: Watcher = { sink, lastSent: -1, who };
    this.watchers.add(watcher);
    this.log.debug({ watcher: who, watchers: this.watchers.size }, 'watch stream opened');
    this.sendTo(watcher, this.state.publishedSnapshot());
    return () => {
      if (this.watchers.delete(watcher)) this.log.debug({ watcher: who, watchers: this.watchers.size }, 'watch stream closed');
    };
  }

  /** Ends every stream; used when the coordinator shuts down. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.watchers) {
      try {
        w.sink.end();
      } catch (err) {
        this.log.debug({ err, watcher: w.who }, 'ending a watch stream failed');
      }
    }
    this.watchers.clear();
  }

  // The first change opens a window; later changes in it ride along with the same message.
  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const snapshot = this.state.publishedSnapshot();
      for (const w of this.watchers) this.sendTo(w, snapshot);
    }, this.batchWindowMs);
  }

  private sendTo(w: Watcher, snapshot: ClusterSnapshot): void {
    // A stream that connected mid-window already has this version.
    if (snapshot.version <= w.lastSent) return;
    try {
      w.sink.send(snapshot);
      w.lastSent = snapshot.version;
    } catch (err) {
      this.log.warn({ err, watcher: w.who }, 'dropping a watch stream that failed to write');
      this.watchers.delete(w);
    }
  }
}
