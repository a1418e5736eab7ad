/**
 * Worker-to-worker HTTP: requests forwarded to the owner of a path, and the internal
 * `/_alluxio/*` endpoints (write-cache copies, multipart upload lists).
 *
 * Trust. Any client can send any header, so a forwarded request proves where it comes from
 * with `x-alluxio-forwarded: <worker id>:<request id>:<unix seconds>:<mac>`, the MAC an
 * HMAC-SHA256 under the cluster secret (coordinator/cluster-secret.ts) of those fields, the
 * method and the request target. A marker that does not verify (no secret yet, a wrong MAC,
 * a clock more than MAX_SKEW_S away, another method or URL) counts as absent: the request is
 * an ordinary client request, routed as usual, and internal endpoints refuse it.
 *
 * Transport. When this worker serves HTTPS and the peer advertises an HTTPS port, requests go
 * there, verified against the configured CA; otherwise over plain HTTP to the S3 port (the MAC
 * still authenticates them, which lets them through alluxio.worker.s3.only.https.access).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { WorkerAddress } from '../../proto/index.js';

export const FORWARDED_HEADER = 'x-alluxio-forwarded';
export const REQUEST_ID_HEADER = 'x-alluxio-request-id';
const MAX_SKEW_S = 300;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const RID = /^[0-9A-Za-z]{1,64}$/;

export class PeerAuth {
  private secret: Buffer | undefined;

  constructor(readonly selfId: string, secret?: string) {
    if (secret) this.setSecret(secret);
  }

  /** The cluster secret (configured, or received when registering). */
  setSecret(secret: string): void {
    this.secret = Buffer.from(secret, 'utf8');
  }

  get ready(): boolean {
    return this.secret !== undefined;
  }

  private mac(worker: string, requestId: string, ts: string, method: string, target: string): Buffer {
    return createHmac('sha256', this.secret!).update(`alluxio-peer-v1\n${worker}\n${requestId}\n${ts}\n${method.toUpperCase()}\n${target}`).digest();
  }

  /** The marker for a request this worker sends to a peer; undefined before the secret is known. */
  sign(method: string, target: string, requestId: string, nowMs = Date.now()): string | undefined {
    if (!this.secret) return undefined;
    const ts = String(Math.floor(nowMs / 1000));
    return `${this.selfId}:${requestId}:${ts}:${this.mac(this.selfId, requestId, ts, method, target).toString('base64url')}`;
  }

  /** The sending worker's id when `marker` is authentic for this request, else undefined. */
  verify(marker: string | string[] | undefined, method: string, target: string, requestId: string | string[] | undefined, nowMs = Date.now()): string | undefined {
    if (!this.secret || typeof marker !== 'string' || typeof requestId !== 'string') return undefined;
    const parts = marker.split(':');
    if (parts.length !== 4) return undefined;
    const [worker, rid, ts, mac] = parts;
    if (!ID.test(worker) || rid !== requestId || !RID.test(rid) || !/^\d{1,12}$/.test(ts)) return undefined;
    if (Math.abs(nowMs / 1000 - Number(ts)) > MAX_SKEW_S) return undefined;
    const given = Buffer.from(mac, 'base64url');
    const want = this.mac(worker, rid, ts, method, target);
    return given.length === want.length && timingSafeEqual(given, want) ? worker : undefined;
  }
}

export interface PeerHttpOptions {
  auth: PeerAuth;
  /** Use peers' HTTPS ports (this worker serves HTTPS too). */
  https: boolean;
  /** CA bundle for peers' HTTPS certificates; undefined: the system CAs. */
  ca?: Buffer;
}

export class PeerHttp {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });
  private readonly httpsAgent: https.Agent;

  constructor(private readonly opts: PeerHttpOptions) {
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, ca: opts.ca });
  }

  get auth(): PeerAuth {
    return this.opts.auth;
  }

  /** Where and how to reach a peer's S3 server. */
  endpoint(address: WorkerAddress): { secure: boolean; port: number } {
    return this.opts.https && address.https_port > 0 ? { secure: true, port: address.https_port } : { secure: false, port: address.s3_port };
  }

  /**
   * An authenticated request to a peer (not yet ended). `headers` pass through as given (Host
   * included: the owner checks the client's own signature); the marker and request id are set.
   */
  request(address: WorkerAddress, o: { method: string; path: string; headers?: http.OutgoingHttpHeaders; requestId: string; signal?: AbortSignal; timeout?: number }): http.ClientRequest {
    const { secure, port } = this.endpoint(address);
    const headers: http.OutgoingHttpHeaders = { ...o.headers, [REQUEST_ID_HEADER]: o.requestId };
    const marker = this.opts.auth.sign(o.method, o.path, o.requestId);
    if (marker) headers[FORWARDED_HEADER] = marker;
    else delete headers[FORWARDED_HEADER];
    const common = { host: address.host, port, method: o.method, path: o.path, headers, signal: o.signal, timeout: o.timeout };
    // The owner's certificate names its advertised host; the client's Host header is for the S3 signature only.
    // Node would take the name to verify from the Host header; it must be the peer's own.
    return secure
      ? https.request({ ...common, agent: this.httpsAgent, servername: isIP(address.host) ? '' : address.host, checkServerIdentity: (_name, cert) => tls.checkServerIdentity(address.host, cert) })
      : http.request({ ...common, agent: this.httpAgent });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

const VERIFIED_PEER = Symbol('verified peer');

/** Records on a request that an authenticated cluster member sent it (server.ts, after verify). */
export function markVerifiedPeer(req: object, workerId: string): void {
  (req as Record<symbol, string>)[VERIFIED_PEER] = workerId;
}

/**
 * The worker that forwarded this request, when its marker verified; undefined for client
 * requests. Authenticators use it for requests a worker makes on its own account (the DELETE
 * fan-out of DeleteObjects, upload listings), which carry no client signature.
 */
export function verifiedPeer(req: object): string | undefined {
  return (req as Record<symbol, string | undefined>)[VERIFIED_PEER];
}
