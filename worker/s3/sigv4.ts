/**
 * AWS Signature Version 4 as S3 computes it (S3-CLIENTS.md §5): the canonical request, the
 * string to sign, the signing key, and the signed-chunk chain of aws-chunked bodies. Pure
 * functions of their inputs, so that the AWS test vectors check them directly.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Constant-time comparison of two hex or base64 signatures. */
export function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Percent-decoding to bytes that never throws: a stray `%` stays itself, as S3 treats it. */
export function percentDecode(s: string): Buffer {
  const out: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === 0x25 && i + 2 < raw.length && /^[0-9A-Fa-f]{2}$/.test(raw.subarray(i + 1, i + 3).toString('latin1'))) {
      out.push(parseInt(raw.subarray(i + 1, i + 3).toString('latin1'), 16));
      i += 2;
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

/** RFC 3986 encoding of bytes: everything but A-Z a-z 0-9 - . _ ~ (and '/' when kept) as upper-case %XX. */
export function uriEncode(bytes: Buffer, keepSlash: boolean): string {
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && b === 0x2f)) out += ch;
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The canonical URI: the path as sent, decoded once and re-encoded, '/' kept, nothing normalized (S3 rules). */
export function canonicalUri(rawPath: string): string {
  return uriEncode(percentDecode(rawPath === '' ? '/' : rawPath), true);
}

/** The canonical query string: each name and value decoded and re-encoded, sorted by name then value; `X-Amz-Signature` left out. */
export function canonicalQuery(rawQuery: string, omit: ReadonlySet<string> = new Set()): string {
  if (rawQuery === '') return '';
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    const name = uriEncode(percentDecode(rawName), false);
    if (omit.has(percentDecode(rawName).toString('utf8'))) continue;
    pairs.push([name, uriEncode(percentDecode(rawValue), false)]);
  }
  // Byte order of the encoded strings (all ASCII here), as S3 sorts.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

/**
 * Canonical headers from Node's rawHeaders (which keep repeats apart): the signed names in
 * the order given, values trimmed with inner runs of spaces collapsed, repeats joined by ','.
 * A signed header the request lacks is reported by name.
 */
export function canonicalHeaders(rawHeaders: readonly string[], signed: readonly string[]): { text: string } | { missing: string } {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const list = values.get(name) ?? [];
    list.push(rawHeaders[i + 1].trim().replace(/\s+/g, ' '));
    values.set(name, list);
  }
  let text = '';
  for (const name of signed) {
    const v = values.get(name);
    if (!v) return { missing: name };
    text += `${name}:${v.join(',')}\n`;
  }
  return { text };
}

export function canonicalRequest(method: string, uri: string, query: string, headers: string, signedHeaders: string, payloadHash: string): string {
  return `${method}\n${uri}\n${query}\n${headers}\n${signedHeaders}\n${payloadHash}`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secret}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

export function sign(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/** `Credential=AKID/20130524/us-east-1/s3/aws4_request` split into its parts. */
export interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminal: string;
  /** date/region/service/aws4_request, as it appears in the string to sign. */
  scope: string;
}

export function parseCredentialScope(value: string): CredentialScope | undefined {
  const parts = value.split('/');
  if (parts.length !== 5) return undefined;
  const [accessKeyId, date, region, service, terminal] = parts;
  if (!accessKeyId || !/^\d{8}$/.test(date) || !region || !service) return undefined;
  return { accessKeyId, date, region, service, terminal, scope: parts.slice(1).join('/') };
}

export interface AuthorizationV4 {
  credential: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` (with or without spaces after the commas). */
export function parseAuthorizationV4(header: string): AuthorizationV4 | string {
  const rest = header.slice(ALGORITHM.length).trim();
  const fields = new Map<string, string>();
  for (const part of rest.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) return `the Authorization header component "${p}" is malformed`;
    fields.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
  }
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!fields.get(name)) return `the Authorization header is missing ${name}`;
  }
  return {
    credential: fields.get('Credential')!,
    signedHeaders: fields.get('SignedHeaders')!.split(';').map((h) => h.trim().toLowerCase()),
    signature: fields.get('Signature')!.toLowerCase(),
  };
}

/** x-amz-date form `20130524T000000Z` as epoch ms, or undefined. */
export function parseAmzDate(v: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (!m) return undefined;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(t) ? undefined : t;
}

export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * The running signature of a signed aws-chunked body: each chunk is signed over the previous
 * signature (the seed is the request's own), so chunks cannot be dropped, reordered or
 * replaced. The final zero-length chunk and the trailer are signed too.
 */
export class ChunkSigner {
  private previous: string;

  constructor(private readonly key: Buffer, private readonly amzDate: string, private readonly scope: string, seedSignature: string) {
    this.previous = seedSignature;
  }

  /** The signature the next chunk must carry, given the sha256 of its data; advances the chain. */
  next(chunkSha256Hex: string): string {
    const sts = `${ALGORITHM}-PAYLOAD\n${this.amzDate}\n${this.scope}\n${this.previous}\n${EMPTY_SHA256}\n${chunkSha256Hex}`;
    this.previous = sign(this.key, sts);
    return this.previous;
  }

  /** The trailer's signature over its lines as sent (`name:value\n` each). */
  trailer(trailerText: string): string {
    const sts = `${ALGORITHM}-TRAILER\n${this.amzDate}\n${this.scope}\n${this.previous}\n${sha256Hex(trailerText)}`;
    this.previous = sign(this.key, sts);
    return this.previous;
  }
}
