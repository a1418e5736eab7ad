/**
 * XML in and out. Responses are built from plain objects with fast-xml-parser's builder;
 * request bodies (DeleteObjects, CompleteMultipartUpload, CreateBucketConfiguration) are parsed
 * tolerantly: namespaces, declarations, entity-encoded or bare quotes and element order vary
 * between clients (shared/S3-CLIENTS.md M3).
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from './errors.js';

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
  processEntities: true,
});

export type XmlValue = string | number | boolean | undefined | null | XmlObject | XmlValue[];
export interface XmlObject { [name: string]: XmlValue }

/** `<?xml …?><Root xmlns="…">…</Root>`; undefined children are left out, arrays repeat the element. */
export function renderXml(root: string, body: XmlObject, xmlns: string | null = S3_XMLNS): string {
  const content: XmlObject = xmlns ? { '@_xmlns': xmlns, ...body } : { ...body };
  // A literal CR would reach the client as LF (XML end-of-line normalisation), so keys holding
  // one are sent as a character reference, as S3 does; the builder itself never emits a CR.
  return `<?xml version="1.0" encoding="UTF-8"?>\n${(builder.build({ [root]: content }) as string).replace(/\r/g, '&#13;')}`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  // Trim layout whitespace but never a Key: leading and trailing spaces are part of an S3 key.
  trimValues: false,
  tagValueProcessor: (name: string, value: string) => (name === 'Key' ? value : value.trim()),
  processEntities: true,
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => name === 'Object' || name === 'Part' || name === 'Tag',
});

/** Parses a request body, answering MalformedXML for anything that is not well-formed. */
export function parseXmlBody(text: string): Record<string, unknown> {
  if (text.trim() === '' || XMLValidator.validate(text) !== true) throw new S3Error('MalformedXML');
  try {
    return parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new S3Error('MalformedXML', undefined, {}, { cause: err });
  }
}

/** S3 ListObjects timestamps: ISO-8601 with milliseconds. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

/** `encoding-type=url`: like S3, keep '/', encode everything else that is not unreserved ('+' → %2B). */
export function urlEncodeKey(s: string): string {
  return encodeURIComponent(s).replace(/%2F/g, '/').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
