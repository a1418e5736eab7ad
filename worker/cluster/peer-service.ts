/**
 * The worker's peer gRPC endpoint (port alluxio.worker.rpc.port) and a client for it. Today it
 * answers health pings, which a worker sends before redirecting a client to a peer; the write
 * cache adds replication here.
 */
import { WorkerPeerService, grpc, unary, type PingResponse } from '../../proto/index.js';

export class PeerServer {
  private readonly server: grpc.Server;
  port = 0;

  /** `extra` adds handlers for the other WorkerPeer methods (replicas, with the write cache). */
  constructor(private readonly info: () => PingResponse, extra: grpc.UntypedServiceImplementation = {}, private readonly credentials = grpc.ServerCredentials.createInsecure()) {
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    this.server.addService(WorkerPeerService.service, {
      Ping: (_call: grpc.ServerUnaryCall<unknown, PingResponse>, cb: grpc.sendUnaryData<PingResponse>) => cb(null, this.info()),
      ...extra,
    });
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, this.credentials, (err, bound) => {
        if (err) reject(err);
        else resolve((this.port = bound));
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.server.forceShutdown(); resolve(); }, 2000);
      this.server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
  }
}

/** Pings peers, remembering each answer briefly so a burst of redirects costs one RPC. */
export class PeerHealth {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly recent = new Map<string, { ok: boolean; at: number }>();

  constructor(private readonly selfId: string, private readonly ttlMs = 1000, private readonly timeoutMs = 500, private readonly credentials = grpc.credentials.createInsecure()) {}

  async isAlive(address: string): Promise<boolean> {
    const hit = this.recent.get(address);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.ok;
    let client = this.clients.get(address);
    if (!client) {
      client = new WorkerPeerService(address, this.credentials);
      this.clients.set(address, client);
    }
    const ok = await unary<object, PingResponse>(client, 'Ping', { from: this.selfId }, this.timeoutMs).then(() => true, () => false);
    this.recent.set(address, { ok, at: Date.now() });
    return ok;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
