/**
 * How a worker stops without failing a request (rolling restarts behind a load balancer):
 *  1. every response from now on closes its connection (Connection: close);
 *  2. leave the ring (UnregisterWorker), then wait until this worker's own view and every
 *     remaining peer's have the ring without it, bounded by `ringWaitMs`: from then on no peer
 *     forwards a request here;
 *  3. stop listening (a load balancer retries the refused connection on another worker), let
 *     in-flight requests finish and idle keep-alive connections be closed by their clients
 *     (worker/s3/drain.ts), bounded by the drain timeout.
 * The caller then closes the rest (write cache, coordinator link, page store).
 */
import http from 'node:http';
import type { Logger } from '../common/log.js';
import type { ClusterView } from './cluster/cluster-view.js';
import type { CoordinatorClient } from './cluster/coordinator-client.js';
import type { S3Server } from './s3/server.js';
import type { DrainOptions } from './s3/drain.js';

export interface GracefulStopOptions {
  selfId: string;
  view: ClusterView;
  link: CoordinatorClient;
  s3: S3Server;
  ringWaitMs: number;
  drain: DrainOptions;
  log: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cluster version a peer's S3 endpoint reports, or undefined when it does not answer. */
function peerVersion(host: string, port: number, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    // No keep-alive agent: nothing may outlive the stop.
    const req = http.get({ host, port, path: '/_alluxio/health', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        try {
          resolve(Number((JSON.parse(body) as { version?: number }).version));
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

export async function leaveAndDrain(o: GracefulStopOptions): Promise<void> {
  const started = Date.now();
  o.s3.beginDrain();
  const deadline = started + o.ringWaitMs;
  if (await o.link.leave()) {
    while (o.view.members.has(o.selfId) && Date.now() < deadline) await sleep(25);
    const version = o.view.version;
    const peers = [...o.view.members.values()].filter((m) => m.id !== o.selfId);
    const lagging = await Promise.all(peers.map(async (p) => {
      while (Date.now() < deadline) {
        const v = await peerVersion(p.address.host, p.address.s3_port, Math.max(100, Math.min(1000, deadline - Date.now())));
        // A peer that does not answer is stopping too (or gone): nothing to wait for.
        if (v === undefined || v >= version) return undefined;
        await sleep(25);
      }
      return p.id;
    }));
    const behind = lagging.filter(Boolean);
    if (behind.length > 0) o.log.warn({ peers: behind, version }, 'peers did not confirm the ring without this worker in time; draining anyway');
    o.log.info({ version, ms: Date.now() - started }, 'left the ring; draining connections');
  }
  await o.s3.drain(o.drain);
  o.log.info({ ms: Date.now() - started }, 'drained');
}
