/** Object-level operations: GET/HEAD (ranges, conditionals, response-* overrides), PUT, DELETE. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange, UfsStatus } from '../../../common/ufs/types.js';
import { ObjectError } from '../../objects/errors.js';
import { S3Error } from '../errors.js';
import { sendEmpty } from '../respond.js';
import { contentMd5, header, objectBody, userMetadata, type RequestContext } from '../context.js';

/** S3 objects are at most 5 TiB. */
export const MAX_OBJECT_SIZE = 5 * 1024 ** 4;

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; undefined when absent or not a single byte range (S3 then serves the whole object). */
export function parseRange(value: string | undefined, size: number): ByteRange | undefined | 'unsatisfiable' {
  if (!value) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(value);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

function parseHttpDate(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '').replace(/^"|"$/g, '').replace(/&quot;/g, '');
    return v === '*' || v === etag;
  });
}

/** RFC 7232 evaluation as S3 applies it; throws 304 NotModified or 412 PreconditionFailed. */
export function checkConditions(ctx: RequestContext, st: UfsStatus): void {
  const ifMatch = header(ctx.req, 'if-match');
  const ifNoneMatch = header(ctx.req, 'if-none-match');
  const ifModifiedSince = parseHttpDate(header(ctx.req, 'if-modified-since'));
  const ifUnmodifiedSince = parseHttpDate(header(ctx.req, 'if-unmodified-since'));
  // HTTP dates have second precision.
  const mtime = Math.floor(st.mtimeMs / 1000) * 1000;
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, st.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  } else if (ifUnmodifiedSince !== undefined && mtime > ifUnmodifiedSince) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Unmodified-Since' });
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, st.etag)) throw new S3Error('NotModified');
  } else if (ifModifiedSince !== undefined && mtime <= ifModifiedSince) {
    throw new S3Error('NotModified');
  }
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

function objectHeaders(ctx: RequestContext, st: UfsStatus): Record<string, string | number> {
  const h: Record<string, string | number> = {
    'Last-Modified': httpDate(st.mtimeMs),
    ETag: `"${st.etag}"`,
    'Content-Type': st.contentType ?? 'binary/octet-stream',
    'Accept-Ranges': 'bytes',
  };
  for (const [k, v] of Object.entries(st.userMetadata ?? {})) h[`x-amz-meta-${k}`] = v;
  for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
    const v = ctx.s3.query.get(param);
    if (v !== null) h[name] = v;
  }
  return h;
}

export async function headObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const st = await ctx.services.objects.statObject(bucket, key, { useCache: ctx.useCache });
  checkConditions(ctx, st);
  const h = objectHeaders(ctx, st);
  const range = parseRange(header(ctx.req, 'range'), st.size);
  if (range === 'unsatisfiable') throw new S3Error('InvalidRange', undefined, { ActualObjectSize: String(st.size) });
  if (range) {
    ctx.res.writeHead(206, { ...h, 'Content-Length': range.end - range.start + 1, 'Content-Range': `bytes ${range.start}-${range.end}/${st.size}` });
  } else {
    ctx.res.writeHead(200, { ...h, 'Content-Length': st.size });
  }
  ctx.res.end();
}

export async function getObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const objects = ctx.services.objects;
  // One retry when the object changed between the metadata lookup and the first byte.
  for (let attempt = 0; ; attempt++) {
    const st = await objects.statObject(bucket, key, { useCache: ctx.useCache && attempt === 0 });
    checkConditions(ctx, st);
    const range = parseRange(header(ctx.req, 'range'), st.size);
    if (range === 'unsatisfiable') throw new S3Error('InvalidRange', undefined, { ActualObjectSize: String(st.size), RangeRequested: header(ctx.req, 'range') ?? '' });
    const span = range ?? { start: 0, end: st.size - 1 };
    const body = objects.readObject(bucket, key, st, span, { useCache: ctx.useCache, signal: ctx.signal });
    let first: IteratorResult<Buffer>;
    try {
      first = await body.next();
    } catch (err) {
      if (attempt === 0 && err instanceof ObjectError && err.code === 'Changed') continue;
      throw err;
    }
    const h = objectHeaders(ctx, st);
    if (range) {
      ctx.res.writeHead(206, { ...h, 'Content-Length': span.end - span.start + 1, 'Content-Range': `bytes ${span.start}-${span.end}/${st.size}` });
    } else {
      ctx.res.writeHead(200, { ...h, 'Content-Length': st.size });
    }
    if (first.done) {
      ctx.res.end();
      return;
    }
    const rest = body;
    await pipeline(Readable.from((async function* () {
      yield first.value;
      yield* rest;
    })(), { objectMode: false }), ctx.res);
    return;
  }
}

export async function putObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const meta = userMetadata(ctx.req, ctx.services.metadataMaxBytes);
  const md5 = contentMd5(ctx.req);
  const { body, length } = objectBody(ctx.req);
  if (length !== undefined && length > MAX_OBJECT_SIZE) throw new S3Error('EntityTooLarge');
  const st = await ctx.services.objects.putObject(bucket, key, body, {
    contentType: header(ctx.req, 'content-type'),
    userMetadata: meta,
    contentLength: length,
    contentMd5: md5,
    signal: ctx.signal,
  });
  sendEmpty(ctx.res, 200, { ETag: `"${st.etag}"` });
}

export async function deleteObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  await ctx.services.objects.deleteObject(bucket, key);
  sendEmpty(ctx.res, 204);
}
