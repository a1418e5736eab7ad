/**
 * Every S3 response leaves through here: XML bodies, and errors rendered in exactly one place.
 * Unknown failures become InternalError with a generic message; the request id ties the
 * client's view to the log line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../common/log.js';
import { S3Error } from './errors.js';
import { renderXml, type XmlObject } from './xml.js';

export function sendXml(res: ServerResponse, status: number, root: string, body: XmlObject, headers: Record<string, string> = {}): void {
  sendXmlText(res, status, renderXml(root, body), headers);
}

/** An XML document already rendered (listings render theirs with renderXmlDirect). */
export function sendXmlText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': 0 });
  res.end();
}

function asS3Error(err: unknown): S3Error {
  return err instanceof S3Error ? err : new S3Error('InternalError', undefined, {}, { cause: err });
}

/** The S3 error document; nothing may follow `</Error>` (JS v3 checks the last bytes, S3-CLIENTS R5). */
export function errorXml(err: unknown, resource: string, requestId: string): string {
  const s3err = asS3Error(err);
  return renderXml('Error', { Code: s3err.code, Message: s3err.message, ...s3err.extra, Resource: resource, RequestId: requestId }, null);
}

export function sendError(req: IncomingMessage, res: ServerResponse, err: unknown, resource: string, requestId: string, log: Logger): void {
  const s3err = asS3Error(err);
  if (s3err.status >= 500) log.warn({ err: err instanceof S3Error ? (err.cause ?? err) : err, code: s3err.code }, 'request failed');
  else log.info({ code: s3err.code, msg_detail: s3err.message }, 'request refused');
  if (res.headersSent) {
    // Part of the body is on the wire: the only honest signal left is a broken connection.
    res.destroy(s3err);
    return;
  }
  const headers: Record<string, string | number> = { ...s3err.headers };
  // A HEAD answer, a 304 and a 307 carry no body (S3-CLIENTS R7).
  if (req.method === 'HEAD' || s3err.status === 304) {
    res.writeHead(s3err.status, headers);
    res.end();
    return;
  }
  const body = errorXml(s3err, resource, requestId);
  res.writeHead(s3err.status, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
