/** Multipart upload operations (staged on the owner, committed on Complete). */
import { S3Error } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { isoDate, parseXmlBody } from '../xml.js';
import { contentMd5, header, objectBody, readSmallBody, requestUser, userMetadata, type RequestContext } from '../context.js';
import { MAX_PART_NUMBER } from '../../objects/multipart.js';

/** 10,000 parts of generous XML each. */
const MAX_COMPLETE_XML_BYTES = 4 * 1024 * 1024;
const MAX_PART_SIZE = 5 * 1024 ** 3;

function uploadIdParam(ctx: RequestContext): string {
  const id = ctx.s3.query.get('uploadId');
  if (!id) throw new S3Error('NoSuchUpload');
  return id;
}

export async function createMultipartUpload(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const info = await ctx.services.multipart.create(bucket, key, {
    contentType: header(ctx.req, 'content-type'),
    userMetadata: userMetadata(ctx.req, ctx.services.metadataMaxBytes),
  });
  sendXml(ctx.res, 200, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: info.uploadId });
}

export async function uploadPart(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const raw = ctx.s3.query.get('partNumber') ?? '';
  const partNumber = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(partNumber >= 1 && partNumber <= MAX_PART_NUMBER)) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, { ArgumentName: 'partNumber', ArgumentValue: raw });
  }
  const md5 = contentMd5(ctx.req);
  const { body, length } = objectBody(ctx.req);
  if (length !== undefined && length > MAX_PART_SIZE) throw new S3Error('EntityTooLarge');
  const part = await ctx.services.multipart.uploadPart(uploadIdParam(ctx), bucket, key, partNumber, body, { contentLength: length, contentMd5: md5, signal: ctx.signal });
  sendEmpty(ctx.res, 200, { ETag: `"${part.etag}"` });
}

/** Part ETags arrive quoted, entity-encoded or bare (S3-CLIENTS M3). */
function normaliseEtag(v: unknown): string {
  return String(v ?? '').trim().replace(/&quot;|&#34;/g, '"').replace(/^"|"$/g, '');
}

export async function completeMultipartUpload(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const uploadId = uploadIdParam(ctx);
  const doc = parseXmlBody(await readSmallBody(ctx.req, MAX_COMPLETE_XML_BYTES)).CompleteMultipartUpload as { Part?: { PartNumber?: unknown; ETag?: unknown }[] } | undefined;
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const parts = (doc.Part ?? []).map((p) => {
    const n = String(p?.PartNumber ?? '');
    if (!/^\d+$/.test(n)) throw new S3Error('MalformedXML', 'Every Part needs a PartNumber.');
    return { partNumber: Number(n), etag: normaliseEtag(p.ETag) };
  });
  if (parts.length === 0) throw new S3Error('MalformedXML', 'The XML you provided did not list any part.');
  if (parts.length > MAX_PART_NUMBER) throw new S3Error('MalformedXML', `At most ${MAX_PART_NUMBER} parts.`);
  const st = await ctx.services.multipart.complete(uploadId, bucket, key, parts);
  sendXml(ctx.res, 200, 'CompleteMultipartUploadResult', {
    Location: `/${bucket}/${key}`,
    Bucket: bucket,
    Key: key,
    ETag: `"${st.etag}"`,
  });
}

export async function abortMultipartUpload(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  await ctx.services.multipart.abort(uploadIdParam(ctx), bucket, key);
  sendEmpty(ctx.res, 204);
}

export async function listParts(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const uploadId = uploadIdParam(ctx);
  const q = ctx.s3.query;
  const maxParts = Math.min(Number(q.get('max-parts') ?? 1000) || 1000, 1000);
  const marker = Number(q.get('part-number-marker') ?? 0) || 0;
  const { upload, parts } = await ctx.services.multipart.listParts(uploadId, bucket, key);
  const after = parts.filter((p) => p.partNumber > marker);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  const user = requestUser(ctx.req);
  sendXml(ctx.res, 200, 'ListPartsResult', {
    Bucket: bucket,
    Key: key,
    UploadId: upload.uploadId,
    Initiator: { ID: user, DisplayName: user },
    Owner: { ID: user, DisplayName: user },
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    ...(truncated ? { NextPartNumberMarker: page[page.length - 1].partNumber } : {}),
    MaxParts: maxParts,
    IsTruncated: truncated,
    Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: isoDate(p.lastModifiedMs), ETag: `"${p.etag}"`, Size: p.size })),
  });
}
