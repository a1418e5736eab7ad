/**
 * Counts the body bytes of one S3 request and its response, for the worker's metrics.
 *
 * Node keeps no per-request body count (socket counters mix headers and keep-alive requests),
 * and a 'data' listener would start the body flowing before its consumer is ready (it must
 * wait for 100-continue, or for the owner when proxying). So the two points every body byte
 * passes are wrapped on this request's own objects: the HTTP parser hands each incoming chunk
 * to `req.push`, and every outgoing byte goes through `res.write` or `res.end`. Installed from
 * the server's 'request' listener, before any body byte can arrive.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface BodyBytes {
  readonly received: number;
  readonly sent: number;
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

export function countBodyBytes(req: IncomingMessage, res: ServerResponse): BodyBytes {
  const counts = { received: 0, sent: 0 };
  const push = req.push;
  req.push = function (chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk) counts.received += byteLength(chunk, encoding);
    return push.call(this, chunk, encoding);
  };
  // A HEAD response, a 204 and a 304 never carry a body, whatever was passed to write/end.
  const hasBody = (): boolean => req.method !== 'HEAD' && res.statusCode !== 204 && res.statusCode !== 304;
  const write = res.write as (...args: unknown[]) => boolean;
  res.write = function (this: ServerResponse, ...args: unknown[]): boolean {
    if (hasBody()) counts.sent += byteLength(args[0], args[1]);
    return write.apply(this, args);
  } as ServerResponse['write'];
  const end = res.end as (...args: unknown[]) => ServerResponse;
  res.end = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (typeof args[0] !== 'function' && hasBody()) counts.sent += byteLength(args[0], args[1]);
    return end.apply(this, args);
  } as ServerResponse['end'];
  return counts;
}
