/** S3 key order: the byte order of UTF-8, which JavaScript's UTF-16 string comparison is not. */

/** Byte order of UTF-8, which is S3's key order; JS string comparison is UTF-16 order. */
export function compareKeys(a: string, b: string): number {
  // UTF-8 byte order is code point order. UTF-16 code units agree with it except that
  // surrogates (code points above U+FFFF) must sort after U+E000–U+FFFF: remap at the first
  // difference. No allocation: a listing sorts a whole directory with this (two Buffers per
  // comparison made a 100k-key page take most of a second).
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}
