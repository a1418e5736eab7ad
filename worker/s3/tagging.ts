/**
 * S3 tag sets: from the `x-amz-tagging` header (URL-encoded `k=v&k2=v2`) or a `<Tagging>` body,
 * checked against S3's rules when `alluxio.worker.s3.tagging.restrictions.enabled` is on (at
 * most 10 tags per object, 50 per bucket; keys up to 128 and values up to 256 characters; no
 * duplicate keys), rendered back as XML.
 */
import { S3Error } from './errors.js';
import { parseXmlBody, type XmlObject } from './xml.js';

export const MAX_OBJECT_TAGS = 10;
export const MAX_BUCKET_TAGS = 50;

function invalid(message: string): never {
  throw new S3Error('InvalidTag', message);
}

export function checkTags(pairs: [string, string][], restrictions: boolean, maxTags: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) {
    if (Object.prototype.hasOwnProperty.call(out, k)) invalid(`Cannot provide multiple Tags with the same key: ${k}`);
    if (restrictions) {
      if (k.length === 0 || [...k].length > 128) invalid('The TagKey you have provided is invalid: keys are 1 to 128 characters.');
      if ([...v].length > 256) invalid('The TagValue you have provided is invalid: values are at most 256 characters.');
      if (k.toLowerCase().startsWith('aws:')) invalid('Your TagKey cannot be prefixed with aws:');
    }
    out[k] = v;
  }
  if (restrictions && Object.keys(out).length > maxTags) {
    throw new S3Error('BadRequest', `Object tags cannot be greater than ${maxTags}`);
  }
  return out;
}

/** `x-amz-tagging: k=v&k2=v2` (URL query encoding). */
export function tagsFromHeader(value: string | undefined, restrictions: boolean): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const pairs: [string, string][] = [];
  for (const part of value.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        invalid('The x-amz-tagging header is not valid URL query encoding.');
      }
    };
    pairs.push(eq < 0 ? [dec(part), ''] : [dec(part.slice(0, eq)), dec(part.slice(eq + 1))]);
  }
  return checkTags(pairs, restrictions, MAX_OBJECT_TAGS);
}

/** `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>` */
export function tagsFromXml(text: string, restrictions: boolean, maxTags: number): Record<string, string> {
  const doc = parseXmlBody(text).Tagging as { TagSet?: { Tag?: { Key?: unknown; Value?: unknown }[] } | '' } | undefined;
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const set = doc.TagSet;
  const tags = set && typeof set === 'object' ? set.Tag ?? [] : [];
  const pairs = tags.map((t): [string, string] => {
    if (typeof t?.Key !== 'string') throw new S3Error('MalformedXML', 'Every Tag needs a Key.');
    return [t.Key, typeof t.Value === 'string' ? t.Value : ''];
  });
  return checkTags(pairs, restrictions, maxTags);
}

export function tagsXml(tags: Record<string, string>): XmlObject {
  return { TagSet: { Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } };
}
