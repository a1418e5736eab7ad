/**
 * The worker's S3 HTTP edge. Every request gets a request id and a child logger, is parsed
 * into an operation, then either served here or sent to the worker that owns its path:
 * proxied by default, or answered with 307 to the owner when redirects are enabled (GET/HEAD
 * only). A forwarded or redirected request is served where it lands, never sent on again; when
 * the owner cannot be reached, this worker serves the request itself straight from the UFS.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../common/log.js';
import type { WorkerInfo } from '../../proto/index.js';
import { objectPathKey } from '../../common/ring.js';
import type { ClusterView } from '../cluster/cluster-view.js';
import type { PeerHealth } from '../cluster/peer-service.js';
import { uploadOwner } from '../objects/multipart.js';
import { S3Error, S3_ERRORS, type S3ErrorCode } from './errors.js';
import { parseS3Request, isObjectRequest, type S3Request } from './router.js';
import { dispatch } from './dispatch.js';
import { sendError } from './respond.js';
import { toS3Error } from './object-errors.js';
import { renderXml } from './xml.js';
import { FORWARDED_HEADER, Forwarder, OwnerUnreachable } from './proxy.js';
import { deferContinue, startBody, type RequestContext, type S3Services } from './context.js';
import type { Authenticator } from './auth.js';
import type { WriteCache } from '../writecache/write-cache.js';
import { pipeline } from 'node:stream/promises';
import type { MultipartStore, UploadInfo } from '../objects/multipart.js';

export const REDIRECT_MARK = 'alluxio-redirected';
const REQUEST_ID_HEADER = 'x-alluxio-request-id';

export interface S3ServerOptions {
  selfId: string;
  view: ClusterView;
  services: Omit<S3Services, 'deleteOnOwner' | 'listUploadsEverywhere'>;
  authenticator: Authenticator;
  writeCache?: WriteCache;
  virtualHostDomains: readonly string[];
  ready: () => boolean;
  /** Counters served on /_alluxio/stats (UFS operations, cache hits and misses, page store usage). */
  stats: () => object;
  peerHealth: PeerHealth;
  redirect: boolean;
  redirectHealthCheck: boolean;
  keepAlive: boolean;
  idleTimeoutMs: number;
  accessLogging: boolean;
  proxyConnectTimeoutMs: number;
  log: Logger;
}

function encodePath(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export class S3Server {
  private readonly server: http.Server;
  private readonly forwarder: Forwarder;
  private readonly services: S3Services;
  port = 0;
  private readonly requestIdPrefix = randomBytes(4).toString('hex').toUpperCase().slice(0, 7);
  private requestSeq = 0;

  constructor(private readonly opts: S3ServerOptions) {
    this.forwarder = new Forwarder(opts.selfId, opts.proxyConnectTimeoutMs);
    this.services = {
      ...opts.services,
      deleteOnOwner: (b, k, log) => this.deleteOnOwner(b, k, log),
      listUploadsEverywhere: (b, p, log) => this.listUploadsEverywhere(b, p, log),
    };
    // Plain node:http: express only wrapped handle() here, and its router showed in the GET
    // profile (≈7% of a cached 4 KiB GET) while adding nothing handle() uses.
    const app = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    this.server = http.createServer({ maxHeaderSize: 64 * 1024 }, app);
    this.server.on('checkContinue', (req, res) => {
      deferContinue(req, res);
      app(req, res);
    });
    // 0 disables Node's idle timeout: keep-alive connections then stay open (Alluxio's meaning of 0).
    this.server.keepAliveTimeout = opts.idleTimeoutMs;
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 60_000;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.port = (this.server.address() as import('node:net').AddressInfo).port));
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // In-flight requests get a moment to finish; then their sockets go.
      setTimeout(() => this.server.closeAllConnections(), 2000).unref();
    });
    this.forwarder.close();
  }

  /**
   * 16 hex digits, unique per process start: a random prefix and a counter (randomBytes for
   * every request showed in the GET profile).
   */
  private nextRequestId(): string {
    this.requestSeq = (this.requestSeq + 1) % 0x1000000000;
    return this.requestIdPrefix + this.requestSeq.toString(16).toUpperCase().padStart(9, '0');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const forwardedBy = req.headers[FORWARDED_HEADER] as string | undefined;
    const incomingId = req.headers[REQUEST_ID_HEADER];
    const requestId = forwardedBy && typeof incomingId === 'string' && /^[0-9A-F]{16}$/.test(incomingId) ? incomingId : this.nextRequestId();
    req.headers[REQUEST_ID_HEADER] = requestId;
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('Server', 'AlluxioS3');
    if (!this.opts.keepAlive) res.setHeader('Connection', 'close');
    const log = this.opts.log.child({ req_id: requestId });
    // A client that resets mid-body must cost its own request, never the process.
    req.on('error', (err) => log.debug({ err: err.message }, 'request stream error'));
    const started = process.hrtime.bigint();
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
      if (this.opts.accessLogging || res.statusCode >= 400 || !res.writableFinished) {
        log.info({ method: req.method, url: req.url, status: res.statusCode, completed: res.writableFinished, forwarded_by: forwardedBy, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'access');
      }
    });

    let s3: S3Request | undefined;
    try {
      if (req.url === '/_alluxio/health') {
        res.writeHead(this.opts.ready() ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ id: this.opts.selfId, ready: this.opts.ready(), version: this.opts.view.version, pathConfigVersion: this.opts.view.pathConfig?.version ?? 0, writeCacheEnabled: this.opts.view.writeCacheEnabled }));
        return;
      }
      if (req.url === '/_alluxio/stats') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ id: this.opts.selfId, version: this.opts.view.version, ...this.opts.stats() }));
        return;
      }
      if (req.url?.startsWith('/_alluxio/wc?') && forwardedBy && this.opts.writeCache) {
        await this.serveCopy(req, res);
        return;
      }
      if (req.url?.startsWith('/_alluxio/persist') && this.opts.writeCache) {
        const wc = this.opts.writeCache;
        const list = req.url.startsWith('/_alluxio/persist/list');
        const body = list ? await wc.entriesOf(this.opts.selfId) : await wc.stats();
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ id: this.opts.selfId, ...(list ? { entries: body } : body) }));
        return;
      }
      if (req.url?.startsWith('/_alluxio/uploads?') && forwardedBy) {
        const q = new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1));
        const uploads = await this.opts.services.multipart.listUploads(q.get('bucket') ?? '', q.get('prefix') ?? '');
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(uploads));
        return;
      }
      s3 = parseS3Request(req.method ?? 'GET', req.url ?? '/', req.headers, { virtualHostDomains: this.opts.virtualHostDomains });
      if (!this.opts.ready()) throw new S3Error('ServiceUnavailable', 'This worker has not received the mount table from the coordinator yet.');
      let useCache = true;
      if (isObjectRequest(s3) && !forwardedBy) {
        const owner = this.ownerFor(s3);
        if (owner && owner.id !== this.opts.selfId) {
          const served = await this.routeToOwner(req, res, s3, owner, log);
          if (served) return;
          useCache = false; // the owner is unreachable: serve from the UFS without caching here
        } else if (!owner) {
          useCache = false;
        }
      }
      // Who is asking is settled before anything is served (SIMPLE mode names, later modes verify).
      const identity = await this.opts.authenticator.authenticate(req);
      const ctx: RequestContext = { req, res, s3, requestId, log, signal: abort.signal, useCache, identity, services: this.services };
      await dispatch(ctx);
    } catch (err) {
      const bucket = s3 && 'bucket' in s3 ? s3.bucket : undefined;
      const key = s3 && 'key' in s3 ? s3.key : undefined;
      sendError(req, res, toS3Error(err, { bucket, key }), (req.url ?? '/').split('?')[0], requestId, log);
    }
  }

  /** The owner of a request's path; multipart operations go to the worker holding the upload. */
  private ownerFor(s3: Extract<S3Request, { key: string }>): WorkerInfo | undefined {
    const uploadId = s3.query.get('uploadId');
    if (uploadId) {
      const holder = this.opts.view.members.get(uploadOwner(uploadId) ?? '');
      if (holder) return holder;
    }
    return this.opts.view.ownerOf(objectPathKey(s3.bucket, s3.key));
  }

  /** True when the request was answered (redirected or proxied); false to serve it here. */
  private async routeToOwner(req: IncomingMessage, res: ServerResponse, s3: Extract<S3Request, { key: string }>, owner: WorkerInfo, log: Logger): Promise<boolean> {
    const { host, s3_port: port, rpc_port: rpcPort } = owner.address;
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (this.opts.redirect && readOnly) {
      if (s3.query.has(REDIRECT_MARK)) return false;
      if (this.opts.redirectHealthCheck && !(await this.opts.peerHealth.isAlive(`${host}:${rpcPort}`))) {
        log.warn({ owner: owner.id }, 'owner failed its health check; serving from the UFS');
        return false;
      }
      const url = req.url ?? '/';
      const location = `http://${host}:${port}${url}${url.includes('?') ? '&' : '?'}${REDIRECT_MARK}=true`;
      const headers: Record<string, string | number> = { Location: location };
      if (req.method === 'HEAD') {
        res.writeHead(307, { ...headers, 'Content-Length': 0 });
        res.end();
      } else {
        const body = renderXml('Error', {
          Code: 'TemporaryRedirect',
          Message: 'Please re-send this request to the specified temporary endpoint. Continue to use the original request endpoint for future requests.',
          Endpoint: `${host}:${port}`,
          Bucket: s3.bucket,
          RequestId: res.getHeader('x-amz-request-id') as string,
        }, null);
        res.writeHead(307, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      }
      return true;
    }
    try {
      await this.forwarder.forward(req, res, host, port);
      return true;
    } catch (err) {
      if (err instanceof OwnerUnreachable && !res.headersSent) {
        log.warn({ owner: owner.id, err: err.message }, 'owner unreachable; serving the request here');
        return false;
      }
      throw err;
    }
  }

  /** This worker's copy of a write-cache object, for a peer that does not hold one. */
  private async serveCopy(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const q = new URLSearchParams(req.url!.slice(req.url!.indexOf('?') + 1));
    const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
    const range = m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
    const stream = await this.opts.writeCache!.localCopy(q.get('path') ?? '', q.get('writeId') ?? '', range);
    if (!stream) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(range ? 206 : 200, { 'Content-Type': 'application/octet-stream' });
    await pipeline(stream, res);
  }

  /** Every live worker's uploads for a bucket (ours read locally, the others' over HTTP). */
  private async listUploadsEverywhere(bucket: string, prefix: string, log: Logger): Promise<UploadInfo[]> {
    // With the write cache on, the metastore knows every pending upload.
    if (this.opts.writeCache?.enabled) return this.opts.writeCache.listUploads<UploadInfo>(bucket, prefix);
    const q = new URLSearchParams({ bucket, prefix });
    const lists = await Promise.all([...this.opts.view.members.values()].map(async (m) => {
      if (m.id === this.opts.selfId) return this.opts.services.multipart.listUploads(bucket, prefix);
      try {
        const r = await this.forwarder.request('GET', m.address.host, m.address.s3_port, `/_alluxio/uploads?${q}`);
        return r.status === 200 ? (JSON.parse(r.body) as UploadInfo[]) : [];
      } catch (err) {
        log.warn({ worker: m.id, err: (err as Error).message }, 'could not list a worker\'s multipart uploads');
        return [];
      }
    }));
    if (!this.opts.view.members.has(this.opts.selfId)) lists.push(await this.opts.services.multipart.listUploads(bucket, prefix));
    return lists.flat();
  }

  private async deleteOnOwner(bucket: string, key: string, log: Logger): Promise<void> {
    const owner = this.opts.view.ownerOf(objectPathKey(bucket, key));
    if (owner && owner.id !== this.opts.selfId) {
      try {
        const r = await this.forwarder.request('DELETE', owner.address.host, owner.address.s3_port, encodePath(bucket, key));
        if (r.status < 300) return;
        const code = /<Code>([^<]+)<\/Code>/.exec(r.body)?.[1];
        const known: S3ErrorCode = code && code in S3_ERRORS ? (code as S3ErrorCode) : 'InternalError';
        throw new S3Error(known);
      } catch (err) {
        if (!(err instanceof OwnerUnreachable)) throw err;
        log.warn({ owner: owner.id, key }, 'owner unreachable; deleting here');
      }
    }
    await this.services.objects.deleteObject(bucket, key);
  }
}
