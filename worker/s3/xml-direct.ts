/**
 * The document renderXml makes, written out directly. A ListObjects page holds up to 1000
 * entries of five elements each, and fast-xml-parser's builder spent 10-20 ms on one (entity
 * regexes per value, path matching per element): most of a listing's time once the UFS walk
 * got fast. Used for listings; tests/unit/xml-direct.test.ts checks it byte for byte against
 * renderXml.
 */
import { S3_XMLNS, type XmlObject, type XmlValue } from './xml.js';

const SPECIAL = /[&<>"'\r]/;
const SPECIALS = /[&<>"'\r]/g;
const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

/** Text and attribute values as the builder escapes them, plus CR as a character reference (see renderXml). */
function escape(s: string): string {
  return SPECIAL.test(s) ? s.replace(SPECIALS, (c) => ENTITY[c]) : s;
}

function element(name: string, v: XmlValue, out: string[]): void {
  if (v === undefined) return;
  if (Array.isArray(v)) {
    for (const x of v) element(name, x, out);
    return;
  }
  if (v === null) {
    out.push(`<${name}/>`);
    return;
  }
  if (typeof v !== 'object') {
    out.push(`<${name}>${escape(String(v))}</${name}>`);
    return;
  }
  out.push(`<${name}`);
  for (const [k, a] of Object.entries(v)) {
    if (k.startsWith('@_') && a !== undefined && a !== null) out.push(` ${k.slice(2)}="${escape(String(a))}"`);
  }
  out.push('>');
  for (const [k, c] of Object.entries(v)) {
    if (!k.startsWith('@_')) element(k, c, out);
  }
  out.push(`</${name}>`);
}

/** Same contract as renderXml: undefined children are left out, arrays repeat the element. */
export function renderXmlDirect(root: string, body: XmlObject, xmlns: string | null = S3_XMLNS): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  element(root, xmlns ? { '@_xmlns': xmlns, ...body } : body, out);
  return out.join('');
}
