/** Service- and bucket-level operations. */
import { S3Error } from '../errors.js';
import { sendEmpty, sendXml, sendXmlText } from '../respond.js';
import { isoDate, parseXmlBody, urlEncodeKey } from '../xml.js';
import { renderXmlDirect } from '../xml-direct.js';
import { createHash } from 'node:crypto';
import { contentMd5, header, readSmallBody, type RequestContext } from '../context.js';
import { tagsFromXml, tagsXml, MAX_BUCKET_TAGS } from '../tagging.js';
import { ownerOnlyAcl, putAcl } from './object.js';
import type { UfsStatus } from '../../../common/ufs/types.js';

const MAX_DELETE_KEYS = 1000;
const MAX_XML_BYTES = 2 * 1024 * 1024;

function owner(ctx: RequestContext) {
  return { ID: ctx.identity.user, DisplayName: ctx.identity.user };
}

export async function listBuckets(ctx: RequestContext): Promise<void> {
  const buckets = (await ctx.services.objects.listBuckets()).filter((b) => ctx.services.access.mayRead(ctx.identity, b.name));
  sendXml(ctx.res, 200, 'ListAllMyBucketsResult', {
    Owner: owner(ctx),
    Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: isoDate(b.creationDateMs), BucketRegion: ctx.services.region })) },
  });
}

export async function createBucket(ctx: RequestContext, bucket: string): Promise<void> {
  // A CreateBucketConfiguration body may name a region; we have one region and accept any.
  const body = await readSmallBody(ctx.req, 64 * 1024);
  if (body.trim() !== '') parseXmlBody(body);
  await ctx.services.objects.createBucket(bucket);
  try {
    await ctx.services.access.bucketCreated(ctx.identity, bucket, ctx.log);
  } catch (err) {
    // An unowned bucket would lock its creator out: undo it and let the client retry.
    ctx.log.warn({ err, bucket }, 'could not record the bucket owner; removing the bucket');
    await ctx.services.objects.deleteBucket(bucket).catch((e) => ctx.log.warn({ err: e, bucket }, 'could not remove the unowned bucket'));
    throw new S3Error('ServiceUnavailable', 'The bucket owner could not be recorded; please try again.');
  }
  sendEmpty(ctx.res, 200, { Location: `/${bucket}` });
}

export async function headBucket(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  sendEmpty(ctx.res, 200, { 'x-amz-bucket-region': ctx.services.region });
}

export async function deleteBucket(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.deleteBucket(bucket);
  // A bucket made again later starts without the old one's tags.
  await ctx.services.bucketTags.delete(bucket).catch((err) => ctx.log.warn({ err }, 'could not drop the deleted bucket\'s tags'));
  await ctx.services.access.bucketDeleted(bucket, ctx.log);
  sendEmpty(ctx.res, 204);
}

export async function getBucketTagging(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  const tags = await ctx.services.bucketTags.get(bucket);
  if (tags === undefined) throw new S3Error('NoSuchTagSet', undefined, { BucketName: bucket });
  sendXml(ctx.res, 200, 'Tagging', tagsXml(tags));
}

export async function putBucketTagging(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  const tags = tagsFromXml(await readSmallBody(ctx.req, 64 * 1024), ctx.services.taggingRestrictions, MAX_BUCKET_TAGS);
  await ctx.services.bucketTags.put(bucket, tags);
  sendEmpty(ctx.res, 204);
}

export async function deleteBucketTagging(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  await ctx.services.bucketTags.delete(bucket);
  sendEmpty(ctx.res, 204);
}

export async function getBucketAcl(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  sendXml(ctx.res, 200, 'AccessControlPolicy', ownerOnlyAcl(ctx.identity.user));
}

export async function putBucketAcl(ctx: RequestContext, bucket: string): Promise<void> {
  await putAcl(ctx, () => ctx.services.objects.headBucket(bucket));
}

/** Versioning is never enabled: an empty configuration, as S3 answers for such a bucket. */
export async function getBucketVersioning(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  sendXml(ctx.res, 200, 'VersioningConfiguration', {});
}

export async function getBucketLocation(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  // An empty LocationConstraint means us-east-1 (S3-CLIENTS A7).
  const region = ctx.services.region === 'us-east-1' ? '' : ctx.services.region;
  sendXml(ctx.res, 200, 'LocationConstraint', { '#text': region });
}

/** S3 answers these "absent configuration" errors rather than NotImplemented (s3cmd info asks). */
export async function getBucketPolicy(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: bucket });
}

export async function getBucketCors(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.services.objects.headBucket(bucket);
  throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: bucket });
}

function maxKeysParam(q: URLSearchParams): number {
  const v = q.get('max-keys');
  if (v === null || v === '') return 1000;
  if (!/^\d+$/.test(v)) throw new S3Error('InvalidArgument', 'max-keys must be a non-negative integer.', { ArgumentName: 'max-keys', ArgumentValue: v });
  return Math.min(Number(v), 1000);
}

function encodingType(q: URLSearchParams): ((s: string) => string) | undefined {
  const v = q.get('encoding-type');
  if (v === null || v === '') return undefined;
  if (v !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: v });
  return urlEncodeKey;
}

/** Whole-second ISO dates; the keys of a page often share their second, so one Date per run of them. */
function secondsIso(): (ms: number) => string {
  let second = NaN;
  let iso = '';
  return (ms) => {
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      iso = isoDate(s * 1000);
    }
    return iso;
  };
}

function contents(o: UfsStatus, enc: (s: string) => string, withOwner: ReturnType<typeof owner> | undefined, iso: (ms: number) => string) {
  return {
    Key: enc(o.key),
    // Whole seconds, as S3 lists them and as Last-Modified on HEAD says: the two must agree.
    LastModified: iso(o.mtimeMs),
    ETag: `"${o.etag}"`,
    Size: o.size,
    ...(withOwner ? { Owner: withOwner } : {}),
    StorageClass: 'STANDARD',
  };
}

export async function listObjects(ctx: RequestContext, bucket: string, v2: boolean): Promise<void> {
  const q = ctx.s3.query;
  const maxKeys = maxKeysParam(q);
  const enc = encodingType(q);
  const e = enc ?? ((s: string) => s);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  let startAfter: string;
  if (v2) {
    const token = q.get('continuation-token');
    if (token !== null) {
      const decoded = Buffer.from(token, 'base64url').toString('utf8');
      if (token === '' || Buffer.from(decoded, 'utf8').toString('base64url') !== token) {
        throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
      }
      startAfter = decoded;
    } else {
      startAfter = q.get('start-after') ?? '';
    }
  } else {
    startAfter = q.get('marker') ?? '';
  }
  const page = await ctx.services.objects.listObjects(bucket, { prefix, delimiter, startAfter, maxKeys });
  const withOwner = !v2 || q.get('fetch-owner') === 'true' ? owner(ctx) : undefined;
  const iso = secondsIso();
  const common = {
    Name: bucket,
    Prefix: e(prefix),
  };
  const items = {
    Contents: page.objects.map((o) => contents(o, e, withOwner, iso)),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: e(p) })),
    ...(enc ? { EncodingType: 'url' } : {}),
  };
  if (v2) {
    const token = q.get('continuation-token');
    sendXmlText(ctx.res, 200, renderXmlDirect('ListBucketResult', {
      ...common,
      ...(token !== null ? { ContinuationToken: token } : {}),
      ...(q.get('start-after') !== null ? { StartAfter: e(q.get('start-after')!) } : {}),
      KeyCount: page.objects.length + page.commonPrefixes.length,
      MaxKeys: maxKeys,
      ...(delimiter ? { Delimiter: e(delimiter) } : {}),
      IsTruncated: page.isTruncated,
      ...(page.isTruncated && page.lastKey !== undefined ? { NextContinuationToken: Buffer.from(page.lastKey, 'utf8').toString('base64url') } : {}),
      ...items,
    }));
  } else {
    sendXmlText(ctx.res, 200, renderXmlDirect('ListBucketResult', {
      ...common,
      Marker: e(startAfter),
      ...(page.isTruncated && page.lastKey !== undefined ? { NextMarker: e(page.lastKey) } : {}),
      MaxKeys: maxKeys,
      ...(delimiter ? { Delimiter: e(delimiter) } : {}),
      IsTruncated: page.isTruncated,
      ...items,
    }));
  }
}

export async function deleteObjects(ctx: RequestContext, bucket: string): Promise<void> {
  // A Content-MD5 that is not 16 base64 bytes is InvalidDigest before the body is read.
  const md5 = contentMd5(ctx.req);
  const text = await readSmallBody(ctx.req, MAX_XML_BYTES);
  if (md5 !== undefined && createHash('md5').update(text, 'utf8').digest('base64') !== md5) throw new S3Error('BadDigest');
  const doc = parseXmlBody(text).Delete as { Object?: { Key?: unknown }[]; Quiet?: unknown } | undefined;
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const objects = doc.Object ?? [];
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw new S3Error('MalformedXML', `A DeleteObjects request names 1 to ${MAX_DELETE_KEYS} keys.`);
  const quiet = String(doc.Quiet ?? 'false').toLowerCase() === 'true';
  await ctx.services.objects.headBucket(bucket);
  const keys = objects.map((o) => (typeof o?.Key === 'string' ? o.Key : undefined));
  if (keys.some((k) => k === undefined || k === '')) throw new S3Error('MalformedXML', 'Every Object needs a Key.');
  const credentials: Record<string, string> = {};
  for (const name of ['authorization', 'x-amz-security-token']) {
    const v = header(ctx.req, name);
    if (v !== undefined) credentials[name] = v;
  }
  const results = await mapLimit(keys as string[], 16, async (key) => {
    try {
      await ctx.services.deleteOnOwner(bucket, key, ctx.log, credentials);
      return { key };
    } catch (err) {
      ctx.log.warn({ err, key }, 'delete of one key failed');
      const code = err instanceof S3Error ? err.code : 'InternalError';
      return { key, code, message: err instanceof S3Error ? err.message : 'We encountered an internal error. Please try again.' };
    }
  });
  sendXml(ctx.res, 200, 'DeleteResult', {
    Deleted: quiet ? [] : results.filter((r) => !('code' in r)).map((r) => ({ Key: r.key })),
    Error: results.filter((r) => 'code' in r).map((r) => ({ Key: r.key, Code: (r as { code: string }).code, Message: (r as { message: string }).message })),
  });
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}
