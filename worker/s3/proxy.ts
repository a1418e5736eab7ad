/**
 * Forwarding a request to the worker that owns its path, streamed both ways with back-pressure
 * and no buffering. Headers pass through unchanged (Host included, so a signature checked at
 * the owner is the client's own); only hop-by-hop headers are dropped. The forwarded request
 * carries an authenticated marker (../cluster/peer-http.ts) so the owner serves it rather than
 * forwarding it again.
 *
 * The body is not read from the client until the connection to the owner is up: if the owner
 * cannot be reached, the request is still whole and the caller can serve it itself.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { startBody } from './context.js';
import { FORWARDED_HEADER, REQUEST_ID_HEADER, type PeerHttp } from '../cluster/peer-http.js';
import type { WorkerAddress } from '../../proto/index.js';

export { FORWARDED_HEADER } from '../cluster/peer-http.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect']);

/**
 * Whether a request carries a body (RFC 9112 §6.3: a request without Content-Length or
 * Transfer-Encoding has none).
 */
function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/** Bytes of the owner's answer held for one write to the client before reading more of it. */
const RELAY_BATCH_BYTES = 1024 * 1024;

/**
 * Streams the owner's answer to the client, coalescing what arrived in one turn of the event
 * loop into one write. Node reads a socket 64 KiB at a time and, piped, writes each piece on
 * its own: 16 writes (and as many wake-ups of the client) per MiB. Batched, a MiB usually
 * leaves in one or two writes. Back-pressure as with pipe(): past RELAY_BATCH_BYTES held, or
 * when the client's socket is full, the owner's answer is paused until it drains. (pipe() and
 * pipeline() also cost an AbortController and a DOMException per call in pipeline's case.)
 */
function relay(up: IncomingMessage, res: ServerResponse): void {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let scheduled = false;
  let waitingDrain = false;
  const flush = () => {
    scheduled = false;
    if (held.length === 0 || res.destroyed) return;
    const chunks = held;
    held = [];
    heldBytes = 0;
    res.cork();
    for (const c of chunks) res.write(c);
    res.uncork();
    if (res.writableNeedDrain) {
      if (!waitingDrain) {
        waitingDrain = true;
        up.pause();
        res.once('drain', () => {
          waitingDrain = false;
          up.resume();
        });
      }
    } else if (up.isPaused() && !waitingDrain) {
      up.resume();
    }
  };
  up.on('data', (chunk: Buffer) => {
    held.push(chunk);
    heldBytes += chunk.length;
    if (heldBytes >= RELAY_BATCH_BYTES) up.pause();
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  up.on('end', () => {
    flush();
    res.end();
  });
}

export class OwnerUnreachable extends Error {
  override name = 'OwnerUnreachable';
}

export class Forwarder {
  constructor(private readonly peers: PeerHttp, private readonly connectTimeoutMs: number) {}

  /**
   * Proxies `req` to host:port and streams the answer into `res`. Rejects with OwnerUnreachable
   * (nothing sent, nothing consumed) when the owner cannot be reached.
   */
  forward(req: IncomingMessage, res: ServerResponse, owner: WorkerAddress, requestId: string): Promise<void> {
    const host = owner.host;
    const port = this.peers.endpoint(owner).port;
    return new Promise<void>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      delete headers[FORWARDED_HEADER];
      delete headers[REQUEST_ID_HEADER];
      // Expect: 100-continue goes on to the owner, whose 100 (or final answer) decides whether
      // the client sends the body at all.
      const expectContinue = /100-continue/i.test(String(req.headers.expect ?? ''));
      if (expectContinue) headers.expect = '100-continue';
      const withBody = hasBody(req);
      let connected = false;
      let bodySent = false;
      let settled = false;
      const settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        if (err === undefined) resolve();
        else reject(err);
      };
      const upstream = this.peers.request(owner, { method: req.method ?? 'GET', path: req.url ?? '/', headers, requestId });
      const timer = setTimeout(() => {
        if (!connected) upstream.destroy(new OwnerUnreachable(`no connection to ${host}:${port} within ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      if (withBody) {
        // The owner sees the request at once (Node would hold the headers until the first body
        // byte): it may refuse it, or ask for the body with 100 Continue, before any is sent.
        upstream.flushHeaders();
      } else {
        // Nothing to wait for: the request goes out whole, in one write (a separate header flush
        // and pipeline cost a syscall and an AbortController per GET), and stays whole here.
        bodySent = true;
        upstream.end();
      }
      const sendBody = () => {
        bodySent = true;
        startBody(req);
        pipeline(req, upstream).catch((err) => upstream.destroy(err));
      };
      const start = () => {
        connected = true;
        clearTimeout(timer);
        if (!withBody) return;
        if (expectContinue) upstream.once('continue', sendBody);
        else sendBody();
      };
      upstream.on('socket', (sock) => {
        // A fresh connection is up at 'connect', or over TLS once the handshake is done.
        const encrypted = (sock as import('node:tls').TLSSocket).encrypted === true;
        if ((sock as import('node:net').Socket).connecting) sock.once(encrypted ? 'secureConnect' : 'connect', start);
        else start();
      });
      upstream.on('response', (up) => {
        if (res.headersSent) {
          // This worker answered already (the client's body went idle): the owner's answer has nowhere to go.
          upstream.destroy();
          settle();
          return;
        }
        const out: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
        res.writeHead(up.statusCode ?? 502, out);
        const failed = (err: Error) => {
          res.destroy();
          settle(err);
        };
        up.on('error', failed);
        // The owner went away mid-answer: the client must not see a short body as a whole one.
        up.on('close', () => { if (!up.complete) failed(new Error(`${host}:${port} closed the connection mid-answer`)); });
        res.on('finish', () => {
          // The owner answered without the 100 Continue the body waited for: that request will
          // never end, so its pooled connection must not be kept (nor reused).
          if (!bodySent) upstream.destroy();
          settle();
        });
        relay(up, res);
      });
      upstream.on('error', (err) => {
        clearTimeout(timer);
        // A reused keep-alive socket to a dead peer fails only after "connecting"; a request
        // without a body is still whole then, so it may be served elsewhere too.
        const whole = !connected || (!res.headersSent && (req.method === 'GET' || req.method === 'HEAD'));
        if (whole) settle(new OwnerUnreachable(`cannot reach ${host}:${port}: ${err.message}`, { cause: err }));
        else if (!res.headersSent) settle(err);
        else res.destroy(err);
      });
      // The client went away: stop the upstream work too. Nothing is left to answer.
      res.on('close', () => {
        if (res.writableFinished) return;
        upstream.destroy();
        settle();
      });
    });
  }

  /** A bodiless request to a peer (e.g. DELETE for DeleteObjects), answered with its status. */
  request(method: string, owner: WorkerAddress, path: string, requestId: string, extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    const where = `${owner.host}:${this.peers.endpoint(owner).port}`;
    return new Promise((resolve, reject) => {
      const r = this.peers.request(owner, { method, path, requestId, headers: { ...extraHeaders, 'content-length': 0 }, timeout: 30_000 });
      r.on('response', (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => resolve({ status: up.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        up.on('error', reject);
      });
      r.on('timeout', () => r.destroy(new OwnerUnreachable(`${where} did not answer`)));
      r.on('error', (err) => reject(err instanceof OwnerUnreachable ? err : new OwnerUnreachable(`cannot reach ${where}: ${err.message}`, { cause: err })));
      r.end();
    });
  }
}
