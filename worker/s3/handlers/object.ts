/**
 * Object-level operations: GET/HEAD (ranges, conditionals, checksums, response-* overrides),
 * PUT (metadata, tags, integrity, conditional writes), DELETE, CopyObject, tagging and ACLs.
 */
import type { ServerResponse } from 'node:http';
import type { ByteRange, UfsStatus } from '../../../common/ufs/types.js';
import { checksumHeaderName } from '../../../common/checksums.js';
import { ObjectError } from '../../objects/errors.js';
import { S3Error } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { isoDate } from '../xml.js';
import { checksumRequest, contentMd5, contentSha256, header, isAwsChunked, objectBody, readSmallBody, requireBodyLength, storedHeaders, userMetadata, writePrecondition, type RequestContext } from '../context.js';
import { tagsFromHeader, tagsFromXml, tagsXml, MAX_OBJECT_TAGS } from '../tagging.js';
import { checkTags } from '../tagging.js';

/** S3 objects are at most 5 TiB. */
export const MAX_OBJECT_SIZE = 5 * 1024 ** 4;
/** One PutObject carries at most 5 GiB (larger objects need a multipart upload), as in S3. */
export const MAX_PUT_SIZE = 5 * 1024 ** 3;

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

/** IMF-fixdate, RFC 850, asctime (RFC 9110) and ISO 8601; anything else is no date, and S3 ignores the header. */
const HTTP_DATE = [
  /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Za-z]+, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/,
];

function parseHttpDate(v: string | undefined): number | undefined {
  if (!v || !HTTP_DATE.some((re) => re.test(v.trim()))) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '').replace(/^"|"$/g, '').replace(/&quot;/g, '');
    return v === '*' || v === etag;
  });
}

/**
 * RFC 7232 evaluation as S3 applies it; throws 304 NotModified or 412 PreconditionFailed.
 * `prefix` selects the copy-source variants (x-amz-copy-source-if-*), which answer 412 for all.
 */
export function checkConditions(ctx: RequestContext, st: UfsStatus, prefix = ''): void {
  const ifMatch = header(ctx.req, `${prefix}if-match`);
  const ifNoneMatch = header(ctx.req, `${prefix}if-none-match`);
  const ifModifiedSince = parseHttpDate(header(ctx.req, `${prefix}if-modified-since`));
  const ifUnmodifiedSince = parseHttpDate(header(ctx.req, `${prefix}if-unmodified-since`));
  // Built only when thrown: an Error captures a stack, too dear for every GET.
  const notModified = () => prefix === '' ? new S3Error('NotModified') : new S3Error('PreconditionFailed', undefined, { Condition: `${prefix}If-None-Match` });
  // HTTP dates have second precision.
  const mtime = Math.floor(st.mtimeMs / 1000) * 1000;
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, st.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: `${prefix}If-Match` });
  } else if (ifUnmodifiedSince !== undefined && mtime > ifUnmodifiedSince) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: `${prefix}If-Unmodified-Since` });
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, st.etag)) throw notModified();
  } else if (ifModifiedSince !== undefined && mtime <= ifModifiedSince) {
    throw notModified();
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

function objectHeaders(ctx: RequestContext, st: UfsStatus, partial: boolean): Record<string, string | number> {
  const h: Record<string, string | number> = {
    'Last-Modified': httpDate(st.mtimeMs),
    ETag: `"${st.etag}"`,
    'Content-Type': st.contentType ?? 'binary/octet-stream',
    'Accept-Ranges': 'bytes',
  };
  for (const [name, value] of Object.entries(st.headers ?? {})) h[name] = value;
  // Where the object stands with the write cache (seed 004 states): shown by `alluxio fs ls`.
  const wc = (st as { writeCache?: { state: string } }).writeCache;
  h['x-alluxio-persistence-state'] = wc ? wc.state : 'PERSISTED';
  for (const [k, v] of Object.entries(st.userMetadata ?? {})) h[`x-amz-meta-${k}`] = v;
  const tagCount = Object.keys(st.tags ?? {}).length;
  if (tagCount > 0 && ctx.req.method === 'GET') h['x-amz-tagging-count'] = tagCount;
  // A whole-object checksum on a 206 fails the SDKs' validation (S3-CLIENTS R1).
  if (st.checksum && !partial && header(ctx.req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    h[checksumHeaderName(st.checksum.algorithm)] = st.checksum.value;
    h['x-amz-checksum-type'] = st.checksum.type;
  }
  for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
    const v = ctx.s3.query.get(param);
    if (v === null) continue;
    // A CR, LF or other control character would split the response (and Node refuses to send it).
    if (/[^\t\x20-\x7e\x80-\xff]/.test(v)) throw new S3Error('InvalidArgument', `The ${param} parameter holds characters a header cannot carry.`, { ArgumentName: param });
    h[name] = v;
  }
  return h;
}

export async function headObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const st = await ctx.services.objects.statObject(bucket, key, { useCache: ctx.useCache });
  checkConditions(ctx, st);
  const range = parseRange(header(ctx.req, 'range'), st.size);
  if (range === 'unsatisfiable') throw new S3Error('InvalidRange', undefined, { ActualObjectSize: String(st.size) });
  const h = objectHeaders(ctx, st, range !== undefined);
  if (range) {
    ctx.res.writeHead(206, { ...h, 'Content-Length': range.end - range.start + 1, 'Content-Range': `bytes ${range.start}-${range.end}/${st.size}` });
  } else {
    ctx.res.writeHead(200, { ...h, 'Content-Length': st.size });
  }
  ctx.res.end();
}

export async function getObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const objects = ctx.services.objects;
  // A whole object whose metadata is not cached: status and bytes from one UFS request where the store allows it.
  const opened = header(ctx.req, 'range') === undefined ? await objects.openObject(bucket, key, { useCache: ctx.useCache, signal: ctx.signal }) : undefined;
  if (opened) {
    let h: Record<string, string | number>;
    try {
      checkConditions(ctx, opened.status);
      h = objectHeaders(ctx, opened.status, false);
    } catch (err) {
      opened.cancel();
      throw err;
    }
    const first = await opened.body.next();
    ctx.res.writeHead(200, { ...h, 'Content-Length': opened.status.size });
    if (first.done) {
      ctx.res.end();
      return;
    }
    await sendBody(ctx.res, first.value, opened.body);
    return;
  }
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
    const h = objectHeaders(ctx, st, range !== undefined);
    if (range) {
      ctx.res.writeHead(206, { ...h, 'Content-Length': span.end - span.start + 1, 'Content-Range': `bytes ${span.start}-${span.end}/${st.size}` });
    } else {
      ctx.res.writeHead(200, { ...h, 'Content-Length': st.size });
    }
    if (first.done) {
      ctx.res.end();
      return;
    }
    await sendBody(ctx.res, first.value, body);
    return;
  }
}

/**
 * Writes the chunks to the response with back-pressure. A hand loop rather than
 * pipeline(Readable.from(...)): those cost a stream, an AbortController and a DOMException per
 * GET, a tenth of a small cached GET's time. The last chunk goes out with end() (one write).
 */
async function sendBody(res: ServerResponse, first: Buffer, rest: AsyncGenerator<Buffer>): Promise<void> {
  let chunk = first;
  try {
    for (;;) {
      const next = await rest.next();
      if (next.done) {
        res.end(chunk);
        return;
      }
      if (!res.write(chunk)) await drained(res);
      chunk = next.value;
    }
  } finally {
    // Stops the reader (and its UFS read) when the client went away mid-body.
    await rest.return(undefined);
  }
}

function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error('the client closed the connection'));
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the client closed the connection'));
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** x-amz-acl values that mean "only the owner": all we grant, so all we accept. */
const PRIVATE_ACLS = new Set(['private', 'bucket-owner-full-control', 'bucket-owner-read']);

export function checkCannedAcl(ctx: RequestContext): void {
  const acl = header(ctx.req, 'x-amz-acl');
  if (acl !== undefined && !PRIVATE_ACLS.has(acl.trim())) {
    throw new S3Error('NotImplemented', `Only private access control lists are supported (x-amz-acl: ${acl}).`);
  }
  if (Object.keys(ctx.req.headers).some((h) => h.startsWith('x-amz-grant-'))) {
    throw new S3Error('NotImplemented', 'x-amz-grant-* headers are not supported: objects are private to their owner.');
  }
}

function checksumResponseHeaders(st: UfsStatus): Record<string, string> {
  return st.checksum ? { [checksumHeaderName(st.checksum.algorithm)]: st.checksum.value } : {};
}

export async function putObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const meta = userMetadata(ctx.req, ctx.services.metadataMaxBytes);
  const md5 = contentMd5(ctx.req);
  checkCannedAcl(ctx);
  const tags = tagsFromHeader(header(ctx.req, 'x-amz-tagging'), ctx.services.taggingRestrictions);
  const precondition = writePrecondition(ctx.req);
  requireBodyLength(ctx.req);
  const declared = header(ctx.req, 'x-amz-decoded-content-length') ?? header(ctx.req, 'content-length');
  if (declared !== undefined && Number(declared) > MAX_PUT_SIZE) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: declared, MaxSizeAllowed: String(MAX_PUT_SIZE) });
  await ctx.services.objects.checkWrite(bucket, key, precondition);
  // Judged before the body starts flowing (a refusal then never leaves it half-read).
  checksumRequest(ctx.req, isAwsChunked(ctx.req) ? new Map() : undefined);
  const { body, length, trailers } = objectBody(ctx.req);
  const st = await ctx.services.objects.putObject(bucket, key, body, {
    contentType: header(ctx.req, 'content-type'),
    headers: storedHeaders(ctx.req),
    userMetadata: meta,
    tags,
    contentLength: length,
    contentMd5: md5,
    sha256Hex: contentSha256(ctx.req),
    checksum: checksumRequest(ctx.req, trailers),
    precondition,
    signal: ctx.signal,
  });
  sendEmpty(ctx.res, 200, { ETag: `"${st.etag}"`, ...checksumResponseHeaders(st) });
}

export async function deleteObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  await ctx.services.objects.deleteObject(bucket, key);
  sendEmpty(ctx.res, 204);
}

/** `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded (S3-CLIENTS C1). */
export function parseCopySource(ctx: RequestContext): { bucket: string; key: string } {
  const raw = header(ctx.req, 'x-amz-copy-source') ?? '';
  const [pathPart, query] = raw.split('?', 2);
  if (query !== undefined) {
    const version = new URLSearchParams(query).get('versionId');
    if (version !== null && version !== 'null') throw new S3Error('NotImplemented', 'Object versions are not supported (x-amz-copy-source versionId).');
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathPart.replace(/^\//, ''));
  } catch {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey (URL-encoded).', { ArgumentName: 'x-amz-copy-source' });
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey.', { ArgumentName: 'x-amz-copy-source' });
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

export async function copyObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const source = parseCopySource(ctx);
  const directive = (header(ctx.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  const taggingDirective = (header(ctx.req, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive });
  if (taggingDirective !== 'COPY' && taggingDirective !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown tagging directive.', { ArgumentName: 'x-amz-tagging-directive', ArgumentValue: taggingDirective });
  checkCannedAcl(ctx);
  const replace = directive === 'REPLACE'
    ? { contentType: header(ctx.req, 'content-type'), headers: storedHeaders(ctx.req), userMetadata: userMetadata(ctx.req, ctx.services.metadataMaxBytes) }
    : undefined;
  const tags = taggingDirective === 'REPLACE' ? tagsFromHeader(header(ctx.req, 'x-amz-tagging') ?? '', ctx.services.taggingRestrictions) : undefined;
  const st = await ctx.services.objects.copyObject(source, { bucket, key }, {
    replace,
    tags,
    checkSource: (src) => checkConditions(ctx, src, 'x-amz-copy-source-'),
    precondition: writePrecondition(ctx.req),
    signal: ctx.signal,
  });
  const checksum = st.checksum ? { [`Checksum${st.checksum.algorithm}`]: st.checksum.value } : {};
  sendXml(ctx.res, 200, 'CopyObjectResult', { LastModified: isoDate(Math.floor(st.mtimeMs / 1000) * 1000), ETag: `"${st.etag}"`, ...checksum });
}

export async function getObjectTagging(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const st = await ctx.services.objects.statObject(bucket, key, { useCache: ctx.useCache });
  sendXml(ctx.res, 200, 'Tagging', tagsXml(st.tags ?? {}));
}

export async function putObjectTagging(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const tags = tagsFromXml(await readSmallBody(ctx.req, 64 * 1024), ctx.services.taggingRestrictions, MAX_OBJECT_TAGS);
  await ctx.services.objects.updateMetadata(bucket, key, { tags });
  sendEmpty(ctx.res, 200);
}

export async function deleteObjectTagging(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  await ctx.services.objects.updateMetadata(bucket, key, { tags: {} });
  sendEmpty(ctx.res, 204);
}

/** The one policy we keep: the owner has FULL_CONTROL. */
export function ownerOnlyAcl(user: string) {
  return {
    Owner: { ID: user, DisplayName: user },
    AccessControlList: {
      Grant: [{ Grantee: { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'CanonicalUser', ID: user, DisplayName: user }, Permission: 'FULL_CONTROL' }],
    },
  };
}

export async function getObjectAcl(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  await ctx.services.objects.statObject(bucket, key, { useCache: ctx.useCache });
  sendXml(ctx.res, 200, 'AccessControlPolicy', ownerOnlyAcl(ctx.identity.user));
}

/**
 * PUT ?acl: objects are private to their owner, so an ACL that says exactly that (a canned
 * private ACL, or a body granting only FULL_CONTROL) is accepted; anything wider is refused
 * rather than silently ignored. (s3cmd sends back the ACL it read after a copy.)
 */
export async function putAcl(ctx: RequestContext, exists: () => Promise<unknown>): Promise<void> {
  await exists();
  checkCannedAcl(ctx);
  const body = await readSmallBody(ctx.req, 64 * 1024);
  if (body.trim() !== '') {
    const grants = [...body.matchAll(/<Permission>\s*([A-Z_]+)\s*<\/Permission>/g)].map((m) => m[1]);
    const others = /AllUsers|AuthenticatedUsers|EmailAddress|<URI>/.test(body);
    if (others || grants.some((g) => g !== 'FULL_CONTROL')) {
      throw new S3Error('NotImplemented', 'Only an ACL granting the owner FULL_CONTROL is supported: objects are private to their owner.');
    }
  }
  sendEmpty(ctx.res, 200);
}

export { checkTags };
