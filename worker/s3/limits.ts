/**
 * Limits on how a client may hold a request open. Header size and header time are the HTTP
 * server's (server.ts); this adds an idle timeout on the request body, so a client that stops
 * sending mid-upload (slow-loris, or a dead peer without a FIN) costs at most that long: it is
 * answered 400 RequestTimeout when nothing was sent yet, the connection is closed, and the
 * abandoned write is cleaned up like any other aborted request (the body stream errors).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { S3Error } from './errors.js';

export function watchBodyIdle(req: IncomingMessage, res: ServerResponse, timeoutMs: number, fail: (err: S3Error) => void): void {
  if (timeoutMs <= 0 || req.complete) return;
  const te = req.headers['transfer-encoding'];
  const length = Number(req.headers['content-length'] ?? 0);
  if (te === undefined && !(length > 0)) return;
  // The socket's inactivity timer is refreshed by every chunk the HTTP parser reads.
  const socket = req.socket;
  req.setTimeout(timeoutMs, () => {
    // The body's consumer (a UFS write, a decoder) must fail too, or it waits for the rest
    // forever with its temp file: once answered, the request is no longer aborted by Node
    // when its socket closes.
    const abandon = () => {
      req.destroy(new S3Error('RequestTimeout'));
      socket.destroy();
    };
    if (!res.headersSent) {
      res.setHeader('Connection', 'close');
      fail(new S3Error('RequestTimeout'));
      res.once('finish', abandon);
      setTimeout(abandon, 1000).unref();
    } else {
      abandon();
    }
  });
  // The socket, not the request: by 'close' the request may be detached from it already.
  const clear = () => socket.setTimeout(0);
  req.once('end', clear);
  // A body still arriving after the answer (being drained, see drainAfterAnswer) stays bounded.
  res.once('close', () => { if (req.complete) clear(); });
}

/**
 * A handler that starts reading a body and then refuses the request (a header found bad once
 * the body was already flowing into a decoder, a write that failed midway) leaves the rest of
 * that body unread. Node drains only bodies nobody touched; a paused, half-read one stays on
 * the connection, and on a keep-alive connection (a peer's pooled proxy connection above all)
 * the next request then waits behind it forever. Once the answer is out, whatever is left is
 * read and discarded, so the connection either serves its next request or closes.
 *
 * Not for a request being proxied: its body still streams on to the owner after the answer.
 */
export function drainAfterAnswer(req: IncomingMessage, res: ServerResponse, proxied: () => boolean): () => void {
  // Kept here: a consumer's pipeline that failed destroys the request and detaches it from its socket.
  const socket = req.socket;
  let answered = false;
  let settled = false;
  // Only once the handler is done too: until then the body belongs to its consumer, which must
  // still see the body end or fail (an answer sent by the idle timeout comes before that).
  const drain = () => {
    if (!answered || !settled || req.complete || proxied() || socket.destroyed) return;
    // Node's own discard mode for an unread body: the parser drops what follows instead of
    // pausing the connection behind a request nobody reads any more.
    (req as unknown as { _dump?: () => void })._dump?.();
    socket.resume();
  };
  res.once('finish', () => {
    answered = true;
    drain();
  });
  return () => {
    settled = true;
    drain();
  };
}

/**
 * The safety net behind every handler: once its promise has settled, a request must have an
 * answer. A missing one is a bug, logged as such with the request id, and answered 500
 * InternalError (or, with part of an answer already sent, the connection is broken: the only
 * honest signal left). It is a net, not a way to answer requests.
 */
/** See drainAfterAnswer: call the function it returns once the handler has settled. */
export function answerIfSilent(res: ServerResponse, log: { error(o: object, msg: string): void }, answer: (err: S3Error) => void, what: string): void {
  if (res.writableEnded || res.destroyed) return;
  log.error({ operation: what, headers_sent: res.headersSent }, 'a handler settled without answering the request');
  if (res.headersSent) res.destroy();
  else answer(new S3Error('InternalError'));
}
