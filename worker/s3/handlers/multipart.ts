/** Multipart upload operations (pass-through to an S3 UFS, or staged on the owner). */
import { S3Error } from '../errors.js';
import { sendEmpty, sendXml, errorXml } from '../respond.js';
import { isoDate, parseXmlBody, renderXml, urlEncodeKey } from '../xml.js';
import {
  checksumAlgorithmHeader, checksumRequest, contentMd5, contentSha256, header, isAwsChunked, objectBody, readSmallBody, requireBodyLength,
  storedHeaders, userMetadata, writePrecondition, type RequestContext,
} from '../context.js';
import { MAX_PART_NUMBER, type PartInfo } from '../../objects/multipart.js';
import { checksumHeaderName, defaultMultipartChecksumType, isValidChecksumValue, multipartChecksumTypes } from '../../../common/checksums.js';
import type { ChecksumAlgorithm } from '../../../common/ufs/types.js';
import { checkCannedAcl, checkConditions, parseCopySource } from './object.js';
import { tagsFromHeader } from '../tagging.js';

/** 10,000 parts of generous XML each. */
const MAX_COMPLETE_XML_BYTES = 4 * 1024 * 1024;
const MAX_PART_SIZE = 5 * 1024 ** 3;

function uploadIdParam(ctx: RequestContext): string {
  const id = ctx.s3.query.get('uploadId');
  if (!id) throw new S3Error('NoSuchUpload');
  return id;
}

function partNumberParam(ctx: RequestContext): number {
  const raw = ctx.s3.query.get('partNumber') ?? '';
  const partNumber = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(partNumber >= 1 && partNumber <= MAX_PART_NUMBER)) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, { ArgumentName: 'partNumber', ArgumentValue: raw });
  }
  return partNumber;
}

function owner(ctx: RequestContext) {
  return { ID: ctx.identity.user, DisplayName: ctx.identity.user };
}

export async function createMultipartUpload(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  checkCannedAcl(ctx);
  const algorithm = checksumAlgorithmHeader(ctx.req);
  const typeHeader = header(ctx.req, 'x-amz-checksum-type')?.toUpperCase();
  let checksum: { algorithm: ChecksumAlgorithm; type: 'COMPOSITE' | 'FULL_OBJECT' } | undefined;
  if (algorithm) {
    const type = (typeHeader ?? defaultMultipartChecksumType(algorithm)) as 'COMPOSITE' | 'FULL_OBJECT';
    if (!multipartChecksumTypes(algorithm).includes(type)) throw new S3Error('InvalidRequest', `The ${type} checksum type cannot be used with the ${algorithm} algorithm.`);
    checksum = { algorithm, type };
  } else if (typeHeader !== undefined) {
    throw new S3Error('InvalidRequest', 'x-amz-checksum-type needs x-amz-checksum-algorithm.');
  }
  const info = await ctx.services.multipart.create(bucket, key, {
    contentType: header(ctx.req, 'content-type'),
    headers: storedHeaders(ctx.req),
    userMetadata: userMetadata(ctx.req, ctx.services.metadataMaxBytes),
    tags: tagsFromHeader(header(ctx.req, 'x-amz-tagging'), ctx.services.taggingRestrictions),
  }, checksum);
  const extra: Record<string, string> = checksum ? { 'x-amz-checksum-algorithm': checksum.algorithm, 'x-amz-checksum-type': checksum.type } : {};
  sendXml(ctx.res, 200, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: info.uploadId }, extra);
}

function partChecksumHeaders(part: PartInfo, algorithm: ChecksumAlgorithm | undefined): Record<string, string> {
  return algorithm && part.checksum ? { [checksumHeaderName(algorithm)]: part.checksum } : {};
}

export async function uploadPart(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const partNumber = partNumberParam(ctx);
  const md5 = contentMd5(ctx.req);
  const uploadId = uploadIdParam(ctx);
  requireBodyLength(ctx.req);
  const declared = header(ctx.req, 'x-amz-decoded-content-length') ?? header(ctx.req, 'content-length');
  if (declared !== undefined && Number(declared) > MAX_PART_SIZE) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: declared, MaxSizeAllowed: String(MAX_PART_SIZE) });
  // An unknown upload is refused before the client sends the part (Expect: 100-continue).
  await ctx.services.multipart.get(uploadId, bucket, key);
  checksumRequest(ctx.req, isAwsChunked(ctx.req) ? new Map() : undefined);
  const { body, length, trailers } = objectBody(ctx.req);
  const checksum = checksumRequest(ctx.req, trailers);
  const part = await ctx.services.multipart.uploadPart(uploadId, bucket, key, partNumber, body, {
    contentLength: length, contentMd5: md5, sha256Hex: contentSha256(ctx.req), checksum, signal: ctx.signal,
  });
  const upload = await ctx.services.multipart.get(uploadId, bucket, key).catch(() => undefined);
  sendEmpty(ctx.res, 200, { ETag: `"${part.etag}"`, ...partChecksumHeaders(part, upload?.checksumAlgorithm ?? checksum?.algorithm) });
}

export async function uploadPartCopy(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const partNumber = partNumberParam(ctx);
  const source = parseCopySource(ctx);
  const rangeHeader = header(ctx.req, 'x-amz-copy-source-range');
  let range: { start: number; end: number } | undefined;
  if (rangeHeader !== undefined) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
    if (!m || Number(m[2]) < Number(m[1])) throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rangeHeader });
    range = { start: Number(m[1]), end: Number(m[2]) };
  }
  const part = await ctx.services.multipart.uploadPartCopy(uploadIdParam(ctx), bucket, key, partNumber, { ...source, range }, (st) => checkConditions(ctx, st, 'x-amz-copy-source-'), ctx.signal);
  sendXml(ctx.res, 200, 'CopyPartResult', { LastModified: isoDate(Math.floor(part.lastModifiedMs / 1000) * 1000), ETag: `"${part.etag}"` });
}

/** Part ETags arrive quoted, entity-encoded or bare (S3-CLIENTS M3). */
function normaliseEtag(v: unknown): string {
  return String(v ?? '').trim().replace(/&quot;|&#34;/g, '"').replace(/^"|"$/g, '');
}

type PartXml = Record<string, unknown> & { PartNumber?: unknown; ETag?: unknown };

export async function completeMultipartUpload(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const uploadId = uploadIdParam(ctx);
  const doc = parseXmlBody(await readSmallBody(ctx.req, MAX_COMPLETE_XML_BYTES)).CompleteMultipartUpload as { Part?: PartXml[] } | undefined;
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const upload = await ctx.services.multipart.get(uploadId, bucket, key).catch(() => undefined);
  const algorithm = upload?.checksumAlgorithm;
  const parts = (doc.Part ?? []).map((p) => {
    const n = String(p?.PartNumber ?? '');
    if (!/^\d+$/.test(n)) throw new S3Error('MalformedXML', 'Every Part needs a PartNumber.');
    const given = algorithm ? p[`Checksum${algorithm}`] : undefined;
    return { partNumber: Number(n), etag: normaliseEtag(p.ETag), checksum: typeof given === 'string' ? given : undefined };
  });
  if (parts.length === 0) throw new S3Error('MalformedXML', 'The XML you provided did not list any part.');
  if (parts.length > MAX_PART_NUMBER) throw new S3Error('MalformedXML', `At most ${MAX_PART_NUMBER} parts.`);
  const precondition = writePrecondition(ctx.req);
  let fullObjectChecksum: string | undefined;
  if (algorithm && upload?.checksumType === 'FULL_OBJECT') {
    fullObjectChecksum = header(ctx.req, checksumHeaderName(algorithm));
    if (fullObjectChecksum !== undefined && !isValidChecksumValue(algorithm, fullObjectChecksum)) throw new S3Error('InvalidRequest', `Value for ${checksumHeaderName(algorithm)} header is invalid.`);
  }

  const work = ctx.services.multipart.complete(uploadId, bucket, key, parts, { precondition, fullObjectChecksum });
  const render = (r: Awaited<typeof work>) => renderXml('CompleteMultipartUploadResult', {
    Location: `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
    Bucket: bucket,
    Key: key,
    ETag: `"${r.etag}"`,
    ...(r.checksum ? { [`Checksum${r.checksum.algorithm}`]: r.checksum.value, ChecksumType: r.checksum.type } : {}),
  });
  const keepAlive = ctx.services.completeKeepAlive;
  if (!keepAlive.enabled) {
    const r = await work;
    ctx.res.writeHead(200, { 'Content-Type': 'application/xml' });
    ctx.res.end(render(r));
    return;
  }
  // Keepalive (alluxio.proxy.s3.complete.multipart.upload.keepalive.*): answer 200 at once,
  // send whitespace while the commit runs, then the result, or an <Error> document, which
  // every client treats as a failure after a 200 (S3-CLIENTS R5).
  ctx.res.writeHead(200, { 'Content-Type': 'application/xml' });
  ctx.res.write('<?xml version="1.0" encoding="UTF-8"?>\n');
  let delay = 1000;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    ctx.res.write(' ');
    delay = Math.min(delay * 2, keepAlive.maxIntervalMs);
    timer = setTimeout(tick, delay);
  };
  timer = setTimeout(tick, delay);
  try {
    const r = await work;
    ctx.res.end(render(r).replace(/^<\?xml[^>]*>\n/, ''));
  } catch (err) {
    ctx.log.warn({ err }, 'CompleteMultipartUpload failed after the keepalive 200');
    ctx.res.end(errorXml(err, `/${bucket}/${key}`, ctx.res.getHeader('x-amz-request-id') as string).replace(/^<\?xml[^>]*>\n/, ''));
  } finally {
    clearTimeout(timer);
  }
}

export async function abortMultipartUpload(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  await ctx.services.multipart.abort(uploadIdParam(ctx), bucket, key);
  sendEmpty(ctx.res, 204);
}

function intParam(q: URLSearchParams, name: string, dflt: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (!/^\d+$/.test(v)) throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`, { ArgumentName: name, ArgumentValue: v });
  return Math.min(Number(v), max);
}

export async function listParts(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const uploadId = uploadIdParam(ctx);
  const q = ctx.s3.query;
  const maxParts = intParam(q, 'max-parts', 1000, 1000);
  const marker = intParam(q, 'part-number-marker', 0, MAX_PART_NUMBER);
  const { upload, parts } = await ctx.services.multipart.listParts(uploadId, bucket, key);
  const after = parts.filter((p) => p.partNumber > marker);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  const alg = upload.checksumAlgorithm;
  sendXml(ctx.res, 200, 'ListPartsResult', {
    Bucket: bucket,
    Key: key,
    UploadId: upload.uploadId,
    Initiator: owner(ctx),
    Owner: owner(ctx),
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    ...(truncated ? { NextPartNumberMarker: page[page.length - 1].partNumber } : {}),
    MaxParts: maxParts,
    IsTruncated: truncated,
    ...(alg ? { ChecksumAlgorithm: alg, ChecksumType: upload.checksumType } : {}),
    Part: page.map((p) => ({
      PartNumber: p.partNumber, LastModified: isoDate(Math.floor(p.lastModifiedMs / 1000) * 1000), ETag: `"${p.etag}"`, Size: p.size,
      ...(alg && p.checksum ? { [`Checksum${alg}`]: p.checksum } : {}),
    })),
  });
}

/** ListMultipartUploads, merged from every worker (each holds the uploads it created). */
export async function listMultipartUploads(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  const q = ctx.s3.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const idMarker = q.get('upload-id-marker') ?? '';
  const maxUploads = intParam(q, 'max-uploads', 1000, 1000);
  const enc = q.get('encoding-type') === 'url' ? urlEncodeKey : (s: string) => s;
  const all = (await ctx.services.listUploadsEverywhere(bucket, prefix, ctx.log))
    .filter((u) => u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.uploadId > idMarker))
    .sort((a, b) => (a.key === b.key ? (a.initiatedMs - b.initiatedMs) || (a.uploadId < b.uploadId ? -1 : 1) : a.key < b.key ? -1 : 1));
  const uploads: typeof all = [];
  const prefixes: string[] = [];
  let truncated = false;
  for (const u of all) {
    const at = delimiter ? u.key.indexOf(delimiter, prefix.length) : -1;
    const cp = at >= 0 ? u.key.slice(0, at + delimiter.length) : undefined;
    if (cp !== undefined && prefixes.includes(cp)) continue;
    if (uploads.length + prefixes.length >= maxUploads) {
      truncated = true;
      break;
    }
    if (cp !== undefined) prefixes.push(cp);
    else uploads.push(u);
  }
  const last = uploads[uploads.length - 1];
  sendXml(ctx.res, 200, 'ListMultipartUploadsResult', {
    Bucket: bucket,
    KeyMarker: enc(keyMarker),
    UploadIdMarker: idMarker,
    ...(truncated && last ? { NextKeyMarker: enc(last.key), NextUploadIdMarker: last.uploadId } : {}),
    ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
    Prefix: enc(prefix),
    MaxUploads: maxUploads,
    IsTruncated: truncated,
    ...(q.get('encoding-type') === 'url' ? { EncodingType: 'url' } : {}),
    Upload: uploads.map((u) => ({
      Key: enc(u.key), UploadId: u.uploadId, Initiator: owner(ctx), Owner: owner(ctx), StorageClass: 'STANDARD', Initiated: isoDate(u.initiatedMs),
      ...(u.checksumAlgorithm ? { ChecksumAlgorithm: u.checksumAlgorithm, ChecksumType: u.checksumType } : {}),
    })),
    CommonPrefixes: prefixes.map((p) => ({ Prefix: enc(p) })),
  });
}
