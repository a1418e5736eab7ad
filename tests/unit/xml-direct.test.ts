/**
 * renderXmlDirect writes the listing documents itself (the builder was most of a listing's
 * time): it must produce exactly the bytes renderXml does, for every shape a listing sends and
 * for keys full of characters XML escapes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderXml, urlEncodeKey, type XmlObject } from '../../worker/s3/xml.js';
import { renderXmlDirect } from '../../worker/s3/xml-direct.js';
import { mulberry32 } from '../helpers/prng.js';

const NASTY = ['&', '<', '>', '"', "'", '\r', '\n', '\t', ' ', 'é', '日本', '😀', '\u{10FFFF}', '&amp;', ']]>', '<!--', 'a', '/', '%', '+'];

function randomKey(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 8);
  return Array.from({ length: n }, () => NASTY[Math.floor(rand() * NASTY.length)]).join('');
}

function listing(rand: () => number, v2: boolean): XmlObject {
  const contents = Array.from({ length: Math.floor(rand() * 6) }, () => ({
    Key: randomKey(rand),
    LastModified: new Date(Math.floor(rand() * 2e12)).toISOString(),
    ETag: `"${Math.floor(rand() * 1e15).toString(16)}${rand() < 0.5 ? '-1' : ''}"`,
    Size: Math.floor(rand() * 2 ** 40),
    ...(rand() < 0.3 ? { Owner: { ID: randomKey(rand), DisplayName: randomKey(rand) } } : {}),
    StorageClass: 'STANDARD',
  }));
  const truncated = rand() < 0.5;
  const common = { Name: 'bucket', Prefix: randomKey(rand) };
  const items = {
    Contents: contents,
    CommonPrefixes: Array.from({ length: Math.floor(rand() * 3) }, () => ({ Prefix: randomKey(rand) })),
    ...(rand() < 0.3 ? { EncodingType: 'url' } : {}),
  };
  return v2
    ? { ...common, ContinuationToken: rand() < 0.5 ? 'dG9rZW4' : undefined, StartAfter: rand() < 0.5 ? randomKey(rand) : undefined, KeyCount: contents.length, MaxKeys: 1000, Delimiter: rand() < 0.5 ? '/' : undefined, IsTruncated: truncated, NextContinuationToken: truncated ? 'bmV4dA' : undefined, ...items }
    : { ...common, Marker: randomKey(rand), NextMarker: truncated ? randomKey(rand) : undefined, MaxKeys: 0, IsTruncated: truncated, ...items };
}

describe('renderXmlDirect', () => {
  it('renders ListBucketResult documents byte for byte as renderXml does', () => {
    const rand = mulberry32(20261121);
    for (let i = 0; i < 500; i++) {
      const doc = listing(rand, i % 2 === 0);
      assert.equal(renderXmlDirect('ListBucketResult', doc), renderXml('ListBucketResult', doc), JSON.stringify(doc));
    }
  });

  it('url-encoded keys, empty values, empty lists, null and no namespace render the same', () => {
    const docs: XmlObject[] = [
      { Name: 'b', Prefix: '', KeyCount: 0, IsTruncated: false, Contents: [], CommonPrefixes: [] },
      { Name: 'b', Prefix: urlEncodeKey('a b/ü+&'), Contents: [{ Key: urlEncodeKey('\r\n&<>'), Size: 0 }], EncodingType: 'url' },
      { Empty: '', Nothing: null, Skipped: undefined, Nested: { Inner: {} }, Flag: true, Off: false, Big: 12345678901234, Frac: 1.5 },
    ];
    for (const doc of docs) {
      assert.equal(renderXmlDirect('ListBucketResult', doc), renderXml('ListBucketResult', doc));
      assert.equal(renderXmlDirect('Error', doc, null), renderXml('Error', doc, null));
    }
  });
});
