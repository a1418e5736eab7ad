/**
 * The coordinator's client for the workers' peer gRPC port (the WorkerPeer service): load
 * batches and page frees. One channel per worker address, closed with the owner.
 */
import { WorkerPeerService, grpc, unary, type FreePrefixResponse, type LoadKeysRequest, type LoadKeysResponse, type WorkerInfo } from '../../proto/index.js';

/** A batch of big objects can take a while; a stuck worker must not hold a job forever. */
const LOAD_DEADLINE_MS = 30 * 60_000;

export class WorkerPeers {
  private readonly clients = new Map<string, grpc.Client>();

  /** `credentials`: TLS when the cluster's gRPC uses it (proto/tls.ts). */
  constructor(private readonly credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {}

  private client(w: WorkerInfo): grpc.Client {
    const address = `${w.address.host}:${w.address.rpc_port}`;
    let c = this.clients.get(address);
    if (!c) {
      c = new WorkerPeerService(address, this.credentials);
      this.clients.set(address, c);
    }
    return c;
  }

  /** One LoadKeys call; aborting `signal` cancels it (the worker starts no new object). */
  loadKeys(w: WorkerInfo, req: LoadKeysRequest, signal: AbortSignal): Promise<LoadKeysResponse> {
    return new Promise((resolve, reject) => {
      const fn = (this.client(w) as unknown as {
        LoadKeys(req: LoadKeysRequest, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: LoadKeysResponse) => void): grpc.ClientUnaryCall;
      }).LoadKeys;
      const call = fn.call(this.client(w), req, { deadline: Date.now() + LOAD_DEADLINE_MS }, (err, res) => {
        signal.removeEventListener('abort', cancel);
        if (err) reject(new Error(`worker ${w.id}: ${err.details || err.message}`));
        else resolve(res);
      });
      const cancel = (): void => call.cancel();
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
    });
  }

  freePrefix(w: WorkerInfo, prefix: string): Promise<FreePrefixResponse> {
    return unary<object, FreePrefixResponse>(this.client(w), 'FreePrefix', { prefix }, 60_000);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
