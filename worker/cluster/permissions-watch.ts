/**
 * The worker's copy of the bucket owners and grants, kept current by a server-streamed watch
 * on the coordinator (a full list on every connect and after every change), so authorization
 * never costs a call per request. Also the calls a worker makes when a bucket is created or
 * deleted. Owns its gRPC client, stream and reconnect timer; close() stops them.
 */
import { CoordinatorService, grpc, unary, type BucketPermissions, type BucketPermissionsSnapshot } from '../../proto/index.js';
import type { Logger } from '../../common/log.js';

export interface BucketGrants {
  /** '' when the bucket has no owner. */
  readonly owner: string;
  readonly grants: ReadonlyMap<string, 'read' | 'write'>;
  readonly anonymousRead: boolean;
}

export class PermissionsWatch {
  private readonly client: grpc.Client;
  private buckets: ReadonlyMap<string, BucketGrants> = new Map();
  private version = -1;
  private stream: grpc.ClientReadableStream<BucketPermissionsSnapshot> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs = 100;
  private closed = false;
  private readyWaiters: (() => void)[] = [];
  /** True once the first list has arrived. */
  ready = false;

  constructor(address: string, private readonly workerId: string, private readonly log: Logger, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {
    this.client = new CoordinatorService(address, credentials);
  }

  get(bucket: string): BucketGrants | undefined {
    return this.buckets.get(bucket);
  }

  start(): void {
    if (this.closed || this.stream) return;
    const stream = (this.client as unknown as { WatchBucketPermissions(req: object): grpc.ClientReadableStream<BucketPermissionsSnapshot> })
      .WatchBucketPermissions({ worker_id: this.workerId });
    this.stream = stream;
    let first = true;
    stream.on('data', (snap: BucketPermissionsSnapshot) => {
      this.backoffMs = 100;
      // Within one stream versions only go up; the first message of a stream is the truth.
      if (!first && snap.version <= this.version) return;
      first = false;
      this.apply(snap);
    });
    const retry = (why: string): void => {
      if (this.stream !== stream || this.closed) return;
      this.stream = undefined;
      this.log.warn({ why, retry_ms: this.backoffMs }, 'bucket permissions watch lost; reconnecting');
      this.reconnectTimer = setTimeout(() => this.start(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 5000);
    };
    stream.on('error', (err) => retry(err.message));
    stream.on('end', () => retry('stream ended'));
  }

  /** Resolves once the first list has arrived, or after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** A bucket this worker just created belongs to `owner`, with no grants yet. */
  async bucketCreated(bucket: string, owner: string): Promise<void> {
    await unary<object, BucketPermissions>(this.client, 'SetBucketOwner', { bucket, owner, created: true });
  }

  async bucketDeleted(bucket: string): Promise<void> {
    await unary(this.client, 'DeleteBucketPermissions', { bucket });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.stream?.cancel();
    this.stream = undefined;
    this.client.close();
  }

  private apply(snap: BucketPermissionsSnapshot): void {
    this.version = snap.version;
    this.buckets = new Map(snap.buckets.map((b) => [b.bucket, Object.freeze({
      owner: b.owner,
      grants: new Map(Object.entries(b.grants ?? {}).filter(([, p]) => p === 'read' || p === 'write')),
      anonymousRead: b.anonymous_read,
    })]));
    this.log.debug({ version: snap.version, buckets: snap.buckets.length }, 'bucket permissions updated');
    if (!this.ready) {
      this.ready = true;
      for (const w of this.readyWaiters.splice(0)) w();
    }
  }
}
