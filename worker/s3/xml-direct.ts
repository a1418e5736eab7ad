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

/** Appends element `name` holding `v` to `out` (strings concatenate cheaply in V8: no array, no join). */
function element(name: string, v: XmlValue, out: string): string {
  if (v === undefined) return out;
  if (Array.isArray(v)) {
    for (const x of v) out = element(name, x, out);
    return out;
  }
  if (v === null) return `${out}<${name}/>`;
  if (typeof v !== 'object') return `${out}<${name}>${typeof v === 'string' ? escape(v) : escape(String(v))}</${name}>`;
  out += `<${name}`;
  for (const k in v) {
    const a = v[k];
    if (k.startsWith('@_') && a !== undefined && a !== null) out += ` ${k.slice(2)}="${escape(String(a))}"`;
  }
  out += '>';
  for (const k in v) {
    if (!k.startsWith('@_')) out = element(k, v[k], out);
  }
  return `${out}</${name}>`;
}

/** Same contract as renderXml: undefined children are left out, arrays repeat the element. */
export function renderXmlDirect(root: string, body: XmlObject, xmlns: string | null = S3_XMLNS): string {
  return element(root, xmlns ? { '@_xmlns': xmlns, ...body } : body, '<?xml version="1.0" encoding="UTF-8"?>\n');
}
