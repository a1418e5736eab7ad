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
    if (!res.headersSent) {
      res.setHeader('Connection', 'close');
      fail(new S3Error('RequestTimeout'));
      res.once('finish', () => socket.destroy());
      setTimeout(() => socket.destroy(), 1000).unref();
    } else {
      socket.destroy();
    }
  });
  // The socket, not the request: by 'close' the request may be detached from it already.
  const clear = () => socket.setTimeout(0);
  req.once('end', clear);
  res.once('close', clear);
}
