/**
 * AWS Signature Version 2 (HMAC-SHA1), which boto3's, the AWS CLI v1's and s3cmd's presigned
 * URLs use by default and s3cmd may use for headers (S3-CLIENTS.md U2, S8). The string to sign
 * is `VERB\nContent-MD5\nContent-Type\nDate-or-Expires\n<x-amz-* lines><resource>`, where the
 * resource is `/bucket` + the path as sent + the sub-resources in name order.
 */
import { createHmac } from 'node:crypto';

/** The query parameters that are part of a SigV2 resource (botocore's and s3cmd's list). */
const SUB_RESOURCES = new Set([
  'accelerate', 'acl', 'analytics', 'cors', 'defaultObjectAcl', 'delete', 'intelligent-tiering', 'inventory', 'legal-hold',
  'lifecycle', 'location', 'logging', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'partNumber', 'policy',
  'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'response-cache-control', 'response-content-disposition',
  'response-content-encoding', 'response-content-language', 'response-content-type', 'response-expires', 'restore', 'retention',
  'select', 'select-type', 'storageClass', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website',
]);

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * The canonicalized resource. `bucketPrefix` is `/bucket` for virtual-hosted requests (whose
 * path lacks it) and '' for path-style ones.
 */
export function canonicalResourceV2(bucketPrefix: string, rawPath: string, rawQuery: string): string {
  const subs: [string, string | undefined][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (SUB_RESOURCES.has(name)) subs.push([name, eq < 0 ? undefined : decode(part.slice(eq + 1))]);
  }
  subs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const query = subs.map(([n, v]) => (v === undefined ? n : `${n}=${v}`)).join('&');
  return `${bucketPrefix}${rawPath}${query ? `?${query}` : ''}`;
}

/** `x-amz-name:value\n` for every x-amz-* header, names lowercased and sorted, repeats joined by ','. */
export function canonicalAmzHeadersV2(rawHeaders: readonly string[]): string {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (!name.startsWith('x-amz-')) continue;
    const list = values.get(name) ?? [];
    list.push(rawHeaders[i + 1].trim());
    values.set(name, list);
  }
  return [...values.keys()].sort().map((n) => `${n}:${values.get(n)!.join(',')}\n`).join('');
}

export function stringToSignV2(method: string, contentMd5: string, contentType: string, dateOrExpires: string, amzHeaders: string, resource: string): string {
  return `${method}\n${contentMd5}\n${contentType}\n${dateOrExpires}\n${amzHeaders}${resource}`;
}

export function signV2(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}
