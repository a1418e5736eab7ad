/**
 * Requests signed by the AWS SDK's own signer (@smithy/signature-v4, which @aws-sdk/client-s3
 * uses), sent with fetch: for the cases an SDK client cannot produce on purpose (a shifted
 * clock, a tampered header, an expired presigned URL).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

function toBuffer(d: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

/** The Checksum shape the signer asks for, over node:crypto (SHA-256, or HMAC-SHA256 with a key). */
class NodeSha256 {
  private h: Hash | Hmac;
  private readonly secret: Buffer | undefined;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = secret === undefined ? undefined : toBuffer(secret);
    this.h = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret !== undefined ? createHmac('sha256', this.secret) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
  reset(): void {
    this.h = this.fresh();
  }
}

export interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

export function signer(keys: Keys, region = 'us-east-1'): SignatureV4 {
  return new SignatureV4({ credentials: keys, region, service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: true });
}

export interface SignedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** Signs `method url` with the given headers (x-amz-content-sha256 defaults to the empty body's hash). */
export async function signRequest(keys: Keys, method: string, url: string, headers: Record<string, string> = {}, opts: { signingDate?: Date; region?: string } = {}): Promise<SignedRequest> {
  const u = new URL(url);
  const query: Record<string, string> = {};
  u.searchParams.forEach((v, k) => { query[k] = v; });
  const signed = await signer(keys, opts.region).sign({
    method,
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query,
    headers: { host: u.host, 'x-amz-content-sha256': createHash('sha256').update('').digest('hex'), ...headers },
  }, { signingDate: opts.signingDate });
  return { method, url, headers: signed.headers as Record<string, string> };
}

/** A presigned SigV4 URL (X-Amz-* query, UNSIGNED-PAYLOAD), as @aws-sdk/s3-request-presigner makes them. */
export async function presign(keys: Keys, method: string, url: string, expiresIn: number, opts: { signingDate?: Date } = {}): Promise<string> {
  const u = new URL(url);
  const query: Record<string, string> = {};
  u.searchParams.forEach((v, k) => { query[k] = v; });
  // As the SDK's presigner does: the payload is UNSIGNED-PAYLOAD, a header the signer hoists into the query.
  const headers = { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  const p = await signer(keys).presign({ method, protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: u.pathname, query, headers }, { expiresIn, signingDate: opts.signingDate });
  const qs = Object.entries(p.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return `${u.origin}${u.pathname}?${qs}`;
}

/** Sends a signed request; the S3 error code (or '' on success), status and body. */
export async function send(r: SignedRequest, body?: string | Buffer): Promise<{ status: number; code: string; body: string }> {
  const headers = { ...r.headers };
  delete headers.host;
  const res = await fetch(r.url, { method: r.method, headers, body: body === undefined ? undefined : new Uint8Array(typeof body === 'string' ? Buffer.from(body) : body), redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? '', body: text };
}
