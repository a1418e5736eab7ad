/**
 * Replicas of unpersisted data on peers (writeReplicas > 1): the writer streams the bytes to
 * each chosen peer over the peer gRPC port and waits for every ack (size and MD5 checked)
 * before the write is acknowledged to the client. Peers store them in their LocalWriteStore.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { WorkerPeerService, grpc, unary, type ReplicaAck, type ReplicaChunk, type ReplicaRef } from '../../proto/index.js';
import type { LocalWriteStore } from './local-store.js';

/** Replica traffic of this worker, both ways (the worker's metrics read them). */
export interface ReplicationCounters {
  sentRequests: number;
  sentBytes: number;
  sentFailures: number;
  receivedRequests: number;
  receivedBytes: number;
  receivedFailures: number;
}

export function newReplicationCounters(): ReplicationCounters {
  return { sentRequests: 0, sentBytes: 0, sentFailures: 0, receivedRequests: 0, receivedBytes: 0, receivedFailures: 0 };
}

export class ReplicaClient {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(readonly counters: ReplicationCounters = newReplicationCounters(), private readonly credentials = grpc.credentials.createInsecure()) {}

  private client(address: string): grpc.Client {
    let c = this.clients.get(address);
    if (!c) {
      c = new WorkerPeerService(address, this.credentials, { 'grpc.max_send_message_length': 8 * 1024 * 1024 });
      this.clients.set(address, c);
    }
    return c;
  }

  /** Streams `body` to the peer at `address`; resolves once it has stored exactly `size` bytes with `md5Hex`. */
  put(address: string, path: string, writeId: string, body: Readable, size: number, md5Hex: string, timeoutMs = 120_000): Promise<void> {
    this.counters.sentRequests++;
    const sent = new Promise<void>((resolve, reject) => {
      const call = (this.client(address) as unknown as {
        PutReplica(opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, ack: ReplicaAck) => void): grpc.ClientWritableStream<ReplicaChunk>;
      }).PutReplica({ deadline: Date.now() + timeoutMs }, (err, ack) => {
        if (err) {
          body.destroy();
          return reject(new Error(`replica to ${address} failed: ${err.details || err.message}`));
        }
        if (Number(ack.size) !== size || ack.md5_hex !== md5Hex) return reject(new Error(`replica to ${address} stored ${ack.size} bytes (md5 ${ack.md5_hex}), expected ${size} (${md5Hex})`));
        resolve();
      });
      let first = true;
      body.on('data', (chunk: Buffer) => {
        this.counters.sentBytes += chunk.length;
        const ok = call.write({ path: first ? path : '', write_id: first ? writeId : '', data: chunk });
        first = false;
        if (!ok) {
          body.pause();
          call.once('drain', () => body.resume());
        }
      });
      body.on('end', () => {
        if (first) call.write({ path, write_id: writeId, data: Buffer.alloc(0) });
        call.end();
      });
      body.on('error', (err) => {
        call.cancel();
        reject(err);
      });
    });
    sent.catch(() => { this.counters.sentFailures++; });
    return sent;
  }

  async drop(address: string, path: string, writeId: string): Promise<void> {
    await unary<ReplicaRef, object>(this.client(address), 'DropReplica', { path, write_id: writeId }, 10_000);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** The peer-side handlers, for PeerServer. */
export function replicaHandlers(store: LocalWriteStore, counters: ReplicationCounters = newReplicationCounters()) {
  return {
    PutReplica: (call: grpc.ServerReadableStream<ReplicaChunk, ReplicaAck>, cb: grpc.sendUnaryData<ReplicaAck>) => {
      let path = '';
      let writeId = '';
      const md5 = createHash('md5');
      const body = new Readable({ read() { /* pushed below */ } });
      let receiving: Promise<{ commit: () => Promise<unknown>; abort: () => Promise<void>; size: number }> | undefined;
      call.on('data', (chunk: ReplicaChunk) => {
        if (!receiving) {
          path = chunk.path;
          writeId = chunk.write_id;
          if (!path || !/^[0-9a-f-]{8,64}$/.test(writeId)) {
            call.destroy(new Error('the first replica chunk must name the path and write id'));
            return;
          }
          receiving = store.receive(path, writeId, body);
          // Observed at 'end'; a disk failure before then must not be an unhandled rejection.
          receiving.catch(() => undefined);
        }
        md5.update(chunk.data);
        // Back-pressure: a slow disk pauses the stream instead of buffering the replica.
        if (!body.push(chunk.data)) call.pause();
      });
      body._read = () => call.resume();
      // A cancelled call ends neither with 'end' nor 'error': release the temp file.
      call.on('cancelled', () => body.destroy(new Error('replica stream cancelled')));
      call.on('end', async () => {
        body.push(null);
        try {
          if (!receiving) throw new Error('empty replica stream');
          const r = await receiving;
          await r.commit();
          counters.receivedRequests++;
          counters.receivedBytes += r.size;
          cb(null, { size: r.size, md5_hex: md5.digest('hex') });
        } catch (err) {
          counters.receivedFailures++;
          cb({ code: grpc.status.INTERNAL, details: (err as Error).message });
        }
      });
      call.on('error', () => body.destroy());
    },
    DropReplica: (call: grpc.ServerUnaryCall<ReplicaRef, object>, cb: grpc.sendUnaryData<object>) => {
      store.remove(call.request.path, call.request.write_id).then(() => cb(null, {}), (err) => cb({ code: grpc.status.INTERNAL, details: (err as Error).message }));
    },
  };
}
