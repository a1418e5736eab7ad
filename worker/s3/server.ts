/**
 * The worker's S3 HTTP edge. Every request gets a request id and a child logger, is parsed
 * into an operation, then either served here or sent to the worker that owns its path:
 * proxied by default, or answered with 307 to the owner when redirects are enabled (GET/HEAD
 * only). A forwarded or redirected request is served where it lands, never sent on again; when
 * the owner cannot be reached, this worker serves the request itself straight from the UFS.
 * Only a forwarding marker that verifies under the cluster secret counts (../cluster/peer-http.ts);
 * the header is stripped from every request before anything else sees it.
 *
 * The same handler serves plain HTTP and, when a certificate is configured, HTTPS; with
 * only-HTTPS access a plain-HTTP S3 request from a client is refused (authenticated peers and
 * the read-only /_alluxio views still pass).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
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
import { Forwarder, OwnerUnreachable } from './proxy.js';
import { FORWARDED_HEADER, REQUEST_ID_HEADER, markVerifiedPeer, type PeerHttp } from '../cluster/peer-http.js';
import { answerIfSilent, drainAfterAnswer, watchBodyIdle } from './limits.js';
import { redactUrl } from '../../common/log.js';
import { ConnectionDrainer, type DrainOptions } from './drain.js';
import { deferContinue, startBody, type RequestContext, type S3Services } from './context.js';
import type { Authenticator } from './auth.js';
import type { WriteCache } from '../writecache/write-cache.js';
import { pipeline } from 'node:stream/promises';
import type { MultipartStore, UploadInfo } from '../objects/multipart.js';
import type { S3RequestObserver } from '../metrics.js';
import { countBodyBytes, type BodyBytes } from './body-bytes.js';

export const REDIRECT_MARK = 'alluxio-redirected';

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
  /** Authenticated worker-to-worker HTTP (forwarding, internal endpoints). */
  peers: PeerHttp;
  /** PEM certificate and key: serve HTTPS too (listenHttps). */
  https?: { cert: Buffer; key: Buffer };
  /** Refuse plain-HTTP S3 requests from clients (alluxio.worker.s3.only.https.access). */
  onlyHttps: boolean;
  /** A request body idle this long is answered RequestTimeout and its connection closed; 0: never. */
  bodyIdleTimeoutMs: number;
  headersTimeoutMs: number;
  log: Logger;
  /** Told of every S3 request answered (not the internal /_alluxio endpoints). */
  metrics?: S3RequestObserver;
}

function encodePath(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export class S3Server {
  private readonly server: http.Server;
  private readonly httpsServer: https.Server | undefined;
  private readonly forwarder: Forwarder;
  private readonly services: S3Services;
  private readonly bodyBytes = new WeakMap<IncomingMessage, BodyBytes>();
  /** One per listening server (HTTP, and HTTPS when configured). */
  private readonly drainers: ConnectionDrainer[];
  port = 0;
  httpsPort = 0;
  private readonly requestIdPrefix = randomBytes(4).toString('hex').toUpperCase().slice(0, 7);
  private requestSeq = 0;

  constructor(private readonly opts: S3ServerOptions) {
    this.forwarder = new Forwarder(opts.peers, opts.proxyConnectTimeoutMs);
    this.services = {
      ...opts.services,
      deleteOnOwner: (b, k, log, credentials) => this.deleteOnOwner(b, k, log, credentials),
      listUploadsEverywhere: (b, p, log) => this.listUploadsEverywhere(b, p, log),
    };
    // Plain node:http: express only wrapped handle() here, and its router showed in the GET
    // profile (≈7% of a cached 4 KiB GET) while adding nothing handle() uses.
    const app = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const configure = <S extends http.Server>(server: S): S => {
      server.on('checkContinue', (req, res) => {
        if (opts.metrics) this.bodyBytes.set(req, countBodyBytes(req, res));
        deferContinue(req, res);
        app(req, res);
      });
      // 0 disables Node's idle timeout: keep-alive connections then stay open (Alluxio's meaning of 0).
      server.keepAliveTimeout = opts.idleTimeoutMs;
      server.requestTimeout = 0;
      // Slow headers (slow-loris): the connection is closed once this passes without a full header block.
      server.headersTimeout = opts.headersTimeoutMs;
      return server;
    };
    // Body counting starts before the handler sees the request: the first body bytes may follow at once.
    const serve = (req: IncomingMessage, res: ServerResponse) => {
      if (opts.metrics) this.bodyBytes.set(req, countBodyBytes(req, res));
      app(req, res);
    };
    // Node checks the headers timeout every connectionsCheckingInterval (30 s by default): often
    // enough that a slow-headers client is dropped soon after its timeout, not up to 30 s later.
    const connectionsCheckingInterval = Math.max(100, Math.min(1000, opts.headersTimeoutMs / 4 || 1000));
    this.server = configure(http.createServer({ maxHeaderSize: 64 * 1024, connectionsCheckingInterval }, serve));
    if (opts.https) this.httpsServer = configure(https.createServer({ maxHeaderSize: 64 * 1024, connectionsCheckingInterval, cert: opts.https.cert, key: opts.https.key }, serve) as unknown as http.Server) as unknown as https.Server;
    this.drainers = [this.server, this.httpsServer].filter((x): x is http.Server => x !== undefined).map((x) => new ConnectionDrainer(x, FORWARDED_HEADER));
  }

  listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port).then((p) => (this.port = p));
  }

  /** Starts the HTTPS listener (only when a certificate was given). */
  listenHttps(host: string, port: number): Promise<number> {
    if (!this.httpsServer) return Promise.reject(new Error('HTTPS is not configured'));
    return listenOn(this.httpsServer, host, port).then((p) => (this.httpsPort = p));
  }

  /** Every response from now on closes its connection (see drain.ts); requests are still served. */
  beginDrain(): void {
    for (const d of this.drainers) d.begin();
  }

  /** Stops listening, lets in-flight requests finish and keep-alive clients let go (drain.ts). */
  async drain(opts: DrainOptions): Promise<void> {
    const cut = (await Promise.all(this.drainers.map((d) => d.drain(opts)))).reduce((n, r) => n + r.cut, 0);
    if (cut > 0) this.opts.log.warn({ connections: cut }, 'connections still open at the end of the drain were cut');
  }

  async close(): Promise<void> {
    // Already drained (graceful stop): nothing is listening or open any more.
    if (this.drainers.every((d) => d.draining) && ![this.server, this.httpsServer].some((x) => x?.listening)) return;
    await Promise.all([this.server, this.httpsServer].filter((s): s is http.Server => s !== undefined && s.listening).map((server) => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // In-flight requests get a moment to finish; then their sockets go.
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    })));
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
    // The marker is checked, then removed: nothing downstream (handlers, the proxy) sees a client's copy.
    const marker = req.headers[FORWARDED_HEADER];
    const incomingId = req.headers[REQUEST_ID_HEADER];
    delete req.headers[FORWARDED_HEADER];
    delete req.headers[REQUEST_ID_HEADER];
    const forwardedBy = marker === undefined ? undefined : this.opts.peers.auth.verify(marker, req.method ?? 'GET', req.url ?? '/', incomingId);
    const requestId = forwardedBy ? (incomingId as string) : this.nextRequestId();
    if (forwardedBy) markVerifiedPeer(req, forwardedBy);
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('Server', 'AlluxioS3');
    if (!this.opts.keepAlive || this.drainers[0].draining) res.setHeader('Connection', 'close');
    const log = this.opts.log.child({ req_id: requestId });
    if (marker !== undefined && !forwardedBy) log.info({ url: redactUrl(req.url ?? '/') }, 'forwarding marker did not verify; treating the request as a client request');
    // A client that resets mid-body must cost its own request, never the process.
    req.on('error', (err) => log.debug({ err: err.message }, 'request stream error'));
    watchBodyIdle(req, res, this.opts.bodyIdleTimeoutMs, (err) => sendError(req, res, err, (req.url ?? '/').split('?')[0], requestId, log));
    const started = process.hrtime.bigint();
    const abort = new AbortController();
    let s3: S3Request | undefined;
    let proxied = false;
    const handlerSettled = drainAfterAnswer(req, res, () => proxied);
    const metrics = req.url?.startsWith('/_alluxio/') ? undefined : this.opts.metrics;
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
      if (metrics) {
        const op = s3?.op ?? 'Unknown';
        const bytes = this.bodyBytes.get(req);
        metrics.done(op, res.writableFinished ? String(res.statusCode) : 'aborted', Number(process.hrtime.bigint() - started) / 1e9, bytes?.received ?? 0, bytes?.sent ?? 0);
        if (forwardedBy) metrics.fromPeer(op);
      }
      if (this.opts.accessLogging || res.statusCode >= 400 || !res.writableFinished) {
        log.info({ method: req.method, url: redactUrl(req.url ?? '/'), status: res.statusCode, completed: res.writableFinished, forwarded_by: forwardedBy, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'access');
      }
    });

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
      if (req.url?.startsWith('/_alluxio/wc?') || req.url?.startsWith('/_alluxio/uploads?')) {
        if (!forwardedBy) throw new S3Error('AccessDenied', 'Internal endpoints answer only authenticated cluster members.');
      }
      if (req.url?.startsWith('/_alluxio/wc?') && this.opts.writeCache) {
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
      if (this.opts.onlyHttps && !forwardedBy && !(req.socket as TLSSocket).encrypted) {
        throw new S3Error('AccessDenied', 'This endpoint is only accessible over HTTPS (alluxio.worker.s3.only.https.access).');
      }
      s3 = parseS3Request(req.method ?? 'GET', req.url ?? '/', req.headers, { virtualHostDomains: this.opts.virtualHostDomains });
      if (!this.opts.ready()) throw new S3Error('ServiceUnavailable', 'This worker has not received the mount table from the coordinator yet.');
      // Who is asking, and whether it may, is settled before the request is served, proxied or
      // redirected: a 307 must not reveal an owner to a request whose signature fails. The owner
      // checks a forwarded request again (the client's own signature, Host included).
      const identity = await this.opts.authenticator.authenticate(req);
      // Nothing is read or written for a request that may not run.
      this.services.access.authorize(identity, s3, req.headers);
      let useCache = true;
      if (isObjectRequest(s3) && !forwardedBy) {
        const owner = this.ownerFor(s3);
        if (owner && owner.id !== this.opts.selfId) {
          proxied = true;
          const served = await this.routeToOwner(req, res, s3, owner, log);
          if (served) return;
          proxied = false;
          useCache = false; // the owner is unreachable: serve from the UFS without caching here
        } else if (!owner) {
          useCache = false;
        }
      }
      const ctx: RequestContext = { req, res, s3, requestId, log, signal: abort.signal, useCache, identity, services: this.services };
      await dispatch(ctx);
    } catch (err) {
      const bucket = s3 && 'bucket' in s3 ? s3.bucket : undefined;
      const key = s3 && 'key' in s3 ? s3.key : undefined;
      sendError(req, res, toS3Error(err, { bucket, key }), (req.url ?? '/').split('?')[0], requestId, log);
    }
    answerIfSilent(res, log, (err) => sendError(req, res, err, (req.url ?? '/').split('?')[0], requestId, log), s3?.op ?? 'unparsed');
    handlerSettled();
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
    const { host, rpc_port: rpcPort } = owner.address;
    // Redirected clients keep the scheme they came with.
    const secure = (req.socket as TLSSocket).encrypted === true && owner.address.https_port > 0;
    const port = secure ? owner.address.https_port : owner.address.s3_port;
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (this.opts.redirect && readOnly) {
      if (s3.query.has(REDIRECT_MARK)) return false;
      if (this.opts.redirectHealthCheck && !(await this.opts.peerHealth.isAlive(`${host}:${rpcPort}`))) {
        log.warn({ owner: owner.id }, 'owner failed its health check; serving from the UFS');
        return false;
      }
      const url = req.url ?? '/';
      const location = `${secure ? 'https' : 'http'}://${host}:${port}${url}${url.includes('?') ? '&' : '?'}${REDIRECT_MARK}=true`;
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
      this.opts.metrics?.routed(s3.op, 'redirected');
      return true;
    }
    try {
      await this.forwarder.forward(req, res, owner.address, res.getHeader('x-amz-request-id') as string);
      this.opts.metrics?.routed(s3.op, 'proxied');
      return true;
    } catch (err) {
      if (err instanceof OwnerUnreachable && !res.headersSent) {
        log.warn({ owner: owner.id, err: err.message }, 'owner unreachable; serving the request here');
        return false;
      }
      this.opts.metrics?.routed(s3.op, 'proxied');
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
        const r = await this.forwarder.request('GET', m.address, `/_alluxio/uploads?${q}`, randomBytes(8).toString('hex').toUpperCase());
        return r.status === 200 ? (JSON.parse(r.body) as UploadInfo[]) : [];
      } catch (err) {
        log.warn({ worker: m.id, err: (err as Error).message }, 'could not list a worker\'s multipart uploads');
        return [];
      }
    }));
    if (!this.opts.view.members.has(this.opts.selfId)) lists.push(await this.opts.services.multipart.listUploads(bucket, prefix));
    return lists.flat();
  }

  private async deleteOnOwner(bucket: string, key: string, log: Logger, credentials: Record<string, string> = {}): Promise<void> {
    const owner = this.opts.view.ownerOf(objectPathKey(bucket, key));
    if (owner && owner.id !== this.opts.selfId) {
      try {
        const path = encodePath(bucket, key);
        // SIGV4 re-signs for the owner's Host (as Node sets it: no port when it is the default).
        const { secure, port } = this.opts.peers.endpoint(owner.address);
        const hostPort = port === (secure ? 443 : 80) ? owner.address.host : `${owner.address.host}:${port}`;
        const headers = this.opts.authenticator.peerHeaders ? this.opts.authenticator.peerHeaders(credentials, 'DELETE', hostPort, path) ?? {} : credentials;
        const r = await this.forwarder.request('DELETE', owner.address, path, randomBytes(8).toString('hex').toUpperCase(), headers);
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

function listenOn(server: http.Server | https.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as import('node:net').AddressInfo).port);
    });
  });
}
