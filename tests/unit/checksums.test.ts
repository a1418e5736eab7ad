import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Crc32 as RefCrc32 } from '@aws-crypto/crc32';
import { Crc32c as RefCrc32c } from '@aws-crypto/crc32c';
import {
  CHECKSUM_ALGORITHMS,
  checksumHeaderName,
  checksumOf,
  compositeChecksum,
  createChecksumHasher,
  defaultMultipartChecksumType,
  digestLength,
  isValidChecksumValue,
  multipartChecksumTypes,
  parseChecksumAlgorithm,
} from '../../common/checksums.js';
import type { ChecksumAlgorithm } from '../../common/ufs/types.js';
import { mulberry32 } from '../helpers/prng.js';

const te = new TextEncoder();
const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
const u32hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** Independent references: @aws-crypto's byte-wise tables and node:crypto. */
function refRaw(alg: 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256', data: Uint8Array): Buffer {
  switch (alg) {
    case 'CRC32':
      return Buffer.from(u32hex(new RefCrc32().update(data).digest()), 'hex');
    case 'CRC32C':
      return Buffer.from(u32hex(new RefCrc32c().update(data).digest()), 'hex');
    case 'SHA1':
      return createHash('sha1').update(data).digest();
    case 'SHA256':
      return createHash('sha256').update(data).digest();
  }
}

function randomSplits(len: number, rnd: () => number): number[] {
  const cuts = new Set<number>();
  const k = Math.floor(rnd() * 20);
  for (let i = 0; i < k; i++) cuts.add(Math.floor(rnd() * (len + 1)));
  // Also exercise empty chunks and a cut at 0 / len.
  return [0, ...[...cuts].sort((x, y) => x - y), len];
}

describe('checksums: known vectors', () => {
  const vectors: Record<ChecksumAlgorithm, { empty: string; check: string; hello: string }> = {
    CRC32: { empty: '00000000', check: 'cbf43926', hello: '0d4a1185' },
    CRC32C: { empty: '00000000', check: 'e3069283', hello: 'c99465aa' },
    CRC64NVME: { empty: '0000000000000000', check: 'ae8b14860a799888', hello: '' /* no independent published vector for this one */ },
    SHA1: {
      empty: createHash('sha1').update('').digest('hex'),
      check: createHash('sha1').update('123456789').digest('hex'),
      hello: createHash('sha1').update('hello world').digest('hex'),
    },
    SHA256: {
      empty: createHash('sha256').update('').digest('hex'),
      check: createHash('sha256').update('123456789').digest('hex'),
      hello: createHash('sha256').update('hello world').digest('hex'),
    },
  };

  it('CRC32 of "" is AAAAAA==', async () => {
    assert.equal(await checksumOf('CRC32', new Uint8Array(0)), 'AAAAAA==');
  });

  for (const alg of CHECKSUM_ALGORITHMS) {
    it(`${alg}: "", "123456789", "hello world"`, async () => {
      const v = vectors[alg];
      assert.equal(await checksumOf(alg, te.encode('')), b64(v.empty), 'empty');
      assert.equal(await checksumOf(alg, te.encode('123456789')), b64(v.check), '123456789');
      if (v.hello) assert.equal(await checksumOf(alg, te.encode('hello world')), b64(v.hello), 'hello world');
      const d = await (() => {
        const h = createChecksumHasher(alg);
        h.update(te.encode('123456789'));
        return h.digest();
      })();
      assert.ok(Buffer.isBuffer(d));
      assert.equal(d.length, digestLength(alg));
      assert.equal(d.toString('hex'), v.check);
    });
  }

  it('CRC32 and CRC32C agree with @aws-crypto reference implementations on random data', async () => {
    for (const len of [1, 3, 7, 8, 9, 63, 64, 65, 1000, 65_537]) {
      const data = randomBytes(len);
      for (const alg of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
        assert.equal(await checksumOf(alg, data), refRaw(alg, data).toString('base64'), `${alg} len=${len}`);
      }
    }
  });

  it('accepts Uint8Array views with a non-zero byteOffset (no assumption about the backing buffer)', async () => {
    const backing = randomBytes(4096);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 13, 1000);
    const copy = Uint8Array.from(view);
    for (const alg of CHECKSUM_ALGORITHMS) {
      assert.equal(await checksumOf(alg, view), await checksumOf(alg, copy), alg);
    }
  });
});

describe('checksums: streaming', () => {
  it('random chunk splits equal the one-shot digest, for every algorithm', async () => {
    const seed = Date.now() >>> 0;
    const rnd = mulberry32(seed);
    for (let round = 0; round < 25; round++) {
      const len = Math.floor(rnd() * 50_000);
      const data = randomBytes(len);
      const splits = randomSplits(len, rnd);
      for (const alg of CHECKSUM_ALGORITHMS) {
        const oneShot = await checksumOf(alg, data);
        const h = createChecksumHasher(alg);
        for (let i = 1; i < splits.length; i++) h.update(data.subarray(splits[i - 1]!, splits[i]!));
        assert.equal((await h.digest()).toString('base64'), oneShot, `${alg} seed=${seed} round=${round} splits=${splits.join(',')}`);
      }
    }
  });

  it('digest() is stable when called twice; update() after digest() throws', async () => {
    for (const alg of CHECKSUM_ALGORITHMS) {
      const h = createChecksumHasher(alg);
      h.update(te.encode('abc'));
      const a = await h.digest();
      const b = await h.digest();
      assert.deepEqual(a, b, alg);
      assert.throws(() => h.update(te.encode('x')), /after digest/, alg);
    }
  });

  it('hashers are independent of each other', async () => {
    for (const alg of CHECKSUM_ALGORITHMS) {
      const a = createChecksumHasher(alg);
      const b = createChecksumHasher(alg);
      a.update(te.encode('1234'));
      b.update(te.encode('hello world'));
      a.update(te.encode('56789'));
      assert.equal((await a.digest()).toString('base64'), await checksumOf(alg, te.encode('123456789')), alg);
      assert.equal((await b.digest()).toString('base64'), await checksumOf(alg, te.encode('hello world')), alg);
    }
  });

  it('64 MiB in 1 MiB chunks: throughput (logged, not asserted)', async (t) => {
    const chunk = randomBytes(1 << 20);
    const chunks = 64;
    for (const alg of CHECKSUM_ALGORITHMS) {
      const h = createChecksumHasher(alg);
      const start = process.hrtime.bigint();
      for (let i = 0; i < chunks; i++) h.update(chunk);
      const d = await h.digest();
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      assert.equal(d.length, digestLength(alg));
      t.diagnostic(`${alg}: 64 MiB in ${ms.toFixed(0)} ms = ${((chunks / ms) * 1000).toFixed(0)} MiB/s`);
    }
  });
});

describe('checksums: names', () => {
  it('lists the five algorithms', () => {
    assert.deepEqual([...CHECKSUM_ALGORITHMS], ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']);
  });

  it('header name ↔ algorithm round trip, case-insensitive', () => {
    const expected: Record<ChecksumAlgorithm, string> = {
      CRC32: 'x-amz-checksum-crc32',
      CRC32C: 'x-amz-checksum-crc32c',
      CRC64NVME: 'x-amz-checksum-crc64nvme',
      SHA1: 'x-amz-checksum-sha1',
      SHA256: 'x-amz-checksum-sha256',
    };
    for (const alg of CHECKSUM_ALGORITHMS) {
      const h = checksumHeaderName(alg);
      assert.equal(h, expected[alg]);
      assert.equal(parseChecksumAlgorithm(h), alg);
      assert.equal(parseChecksumAlgorithm(h.toUpperCase()), alg);
      assert.equal(parseChecksumAlgorithm('X-Amz-Checksum-' + alg.toLowerCase()), alg);
      assert.equal(parseChecksumAlgorithm(alg), alg);
      assert.equal(parseChecksumAlgorithm(alg.toLowerCase()), alg);
      assert.equal(parseChecksumAlgorithm(alg[0] + alg.slice(1).toLowerCase()), alg);
    }
  });

  it('rejects names that are not ours', () => {
    for (const s of [
      '',
      'md5',
      'crc',
      'crc-32',
      'crc16',
      'sha512',
      'x-amz-checksum-',
      'x-amz-checksum-algorithm',
      'x-amz-checksum-type',
      'x-amz-checksum-mode',
      'x-amz-checksum-md5',
      'x-amz-sdk-checksum-algorithm',
      'content-md5',
      ' crc32',
      'crc32 ',
      'x-amz-checksum-crc32c-extra',
      'x-amz-checksum-x-amz-checksum-crc32',
    ]) {
      assert.equal(parseChecksumAlgorithm(s), undefined, JSON.stringify(s));
    }
  });

  it('digest lengths', () => {
    assert.deepEqual(
      CHECKSUM_ALGORITHMS.map((a) => digestLength(a)),
      [4, 4, 8, 20, 32],
    );
  });
});

describe('checksums: isValidChecksumValue', () => {
  it('accepts real digests of every algorithm', async () => {
    for (const alg of CHECKSUM_ALGORITHMS) {
      for (const data of [te.encode(''), te.encode('hello world'), randomBytes(100)]) {
        assert.ok(isValidChecksumValue(alg, await checksumOf(alg, data)), alg);
      }
      assert.ok(isValidChecksumValue(alg, Buffer.alloc(digestLength(alg), 0xff).toString('base64')), alg);
    }
  });

  it('rejects wrong lengths (other algorithms’ digests, one byte short or long)', async () => {
    for (const alg of CHECKSUM_ALGORITHMS) {
      const n = digestLength(alg);
      for (const len of [0, 1, n - 1, n + 1, 2 * n]) {
        if (len === n) continue;
        assert.equal(isValidChecksumValue(alg, Buffer.alloc(len, 7).toString('base64')), false, `${alg} len=${len}`);
      }
      for (const other of CHECKSUM_ALGORITHMS) {
        if (digestLength(other) === n) continue;
        assert.equal(isValidChecksumValue(alg, await checksumOf(other, te.encode('x'))), false, `${alg} vs ${other}`);
      }
    }
    // CRC32 and CRC32C share a length, so a CRC32 value is a valid-looking CRC32C value.
    assert.ok(isValidChecksumValue('CRC32C', await checksumOf('CRC32', te.encode('x'))));
  });

  it('rejects empty, garbage, non-canonical base64', async () => {
    const good32 = await checksumOf('CRC32', te.encode('hello world')); // DUoRhQ==
    assert.equal(good32, 'DUoRhQ==');
    const bad = [
      '',
      '====',
      'DUoRhQ', // unpadded
      'DUoRhQ=', // short padding
      'DUoRhQ===',
      'DUoRhR==', // non-zero trailing bits (decodes to the same bytes, not canonical)
      'DUoRhQ==\n',
      ' DUoRhQ==',
      'DUo RhQ=',
      'DUoRhQ==-1', // composite form is not a plain digest
      'DUo-hQ==', // base64url alphabet
      'DUo_hQ==',
      'DU!RhQ==',
      'AAAAAAAA', // 6 bytes
      'AAA=AAA=',
      'not base64 at all',
    ];
    for (const v of bad) assert.equal(isValidChecksumValue('CRC32', v), false, JSON.stringify(v));

    const sha = await checksumOf('SHA256', te.encode('hello world'));
    assert.ok(isValidChecksumValue('SHA256', sha));
    assert.ok(sha.endsWith('='));
    // Flip the last significant character so stray low bits are set: still 32 bytes, not canonical.
    const last = sha[sha.length - 2]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const idx = alphabet.indexOf(last);
    const stray = sha.slice(0, -2) + alphabet[idx ^ 1] + '=';
    assert.equal(isValidChecksumValue('SHA256', stray), false, stray);
    assert.equal(isValidChecksumValue('SHA256', sha.slice(0, -1)), false);

    const crc64 = await checksumOf('CRC64NVME', te.encode('123456789'));
    assert.equal(crc64, 'rosUhgp5mIg=');
    assert.ok(isValidChecksumValue('CRC64NVME', crc64));
    assert.equal(isValidChecksumValue('CRC64NVME', 'rosUhgp5mIh='), false);
  });
});

describe('checksums: composite (multipart)', () => {
  async function partDigests(alg: ChecksumAlgorithm, parts: Uint8Array[]): Promise<string[]> {
    return Promise.all(parts.map((p) => checksumOf(alg, p)));
  }

  it('CRC32: equals CRC32(concat(raw part digests)) + "-N", computed independently', async () => {
    for (const n of [1, 2, 3]) {
      const parts = Array.from({ length: n }, (_, i) => randomBytes(1000 + i * 777));
      // Independent: reference CRC32 per part, raw big-endian bytes, reference CRC32 of the concatenation.
      const raws = parts.map((p) => refRaw('CRC32', p));
      const expected = `${refRaw('CRC32', Buffer.concat(raws)).toString('base64')}-${n}`;
      const digests = raws.map((r) => r.toString('base64'));
      assert.deepEqual(await partDigests('CRC32', parts), digests);
      assert.equal(await compositeChecksum('CRC32', digests), expected);
    }
  });

  it('SHA256: equals SHA256(concat(raw part digests)) + "-N", computed independently', async () => {
    for (const n of [2, 3]) {
      const parts = Array.from({ length: n }, (_, i) => randomBytes(5000 + i));
      const raws = parts.map((p) => createHash('sha256').update(p).digest());
      const outer = createHash('sha256');
      for (const r of raws) outer.update(r);
      const expected = `${outer.digest('base64')}-${n}`;
      assert.equal(await compositeChecksum('SHA256', raws.map((r) => r.toString('base64'))), expected);
    }
  });

  it('CRC32C and SHA1 follow the same rule', async () => {
    for (const alg of ['CRC32C', 'SHA1'] as const) {
      const parts = [te.encode('part one'), te.encode('part two'), te.encode('part three')];
      const raws = parts.map((p) => refRaw(alg, p));
      const expected = `${refRaw(alg, Buffer.concat(raws)).toString('base64')}-3`;
      assert.equal(await compositeChecksum(alg, await partDigests(alg, parts)), expected, alg);
    }
  });

  it('is not the checksum of the whole object (sanity) and depends on part order', async () => {
    const parts = [randomBytes(3000), randomBytes(4000)];
    const digests = await partDigests('CRC32', parts);
    const composite = await compositeChecksum('CRC32', digests);
    assert.notEqual(composite.replace(/-2$/, ''), await checksumOf('CRC32', Buffer.concat(parts)));
    assert.notEqual(await compositeChecksum('CRC32', [...digests].reverse()), composite);
  });

  it('rejects an empty list, invalid part digests, and CRC64NVME', async () => {
    await assert.rejects(compositeChecksum('CRC32', []), RangeError);
    await assert.rejects(compositeChecksum('CRC32', ['AAAAAA==', 'garbage']), /part 2/);
    await assert.rejects(compositeChecksum('SHA256', ['AAAAAA==']), RangeError); // a CRC32-length value
    await assert.rejects(compositeChecksum('CRC64NVME', ['AAAAAAAAAAA=', 'AAAAAAAAAAA=']), /COMPOSITE/);
  });

  it('multipart checksum type rules', () => {
    assert.deepEqual([...multipartChecksumTypes('CRC32')].sort(), ['COMPOSITE', 'FULL_OBJECT']);
    assert.deepEqual([...multipartChecksumTypes('CRC32C')].sort(), ['COMPOSITE', 'FULL_OBJECT']);
    assert.deepEqual([...multipartChecksumTypes('CRC64NVME')], ['FULL_OBJECT']);
    assert.deepEqual([...multipartChecksumTypes('SHA1')], ['COMPOSITE']);
    assert.deepEqual([...multipartChecksumTypes('SHA256')], ['COMPOSITE']);
    assert.equal(defaultMultipartChecksumType('CRC32'), 'COMPOSITE');
    assert.equal(defaultMultipartChecksumType('CRC32C'), 'COMPOSITE');
    assert.equal(defaultMultipartChecksumType('CRC64NVME'), 'FULL_OBJECT');
    assert.equal(defaultMultipartChecksumType('SHA1'), 'COMPOSITE');
    assert.equal(defaultMultipartChecksumType('SHA256'), 'COMPOSITE');
    for (const alg of CHECKSUM_ALGORITHMS) {
      assert.ok(multipartChecksumTypes(alg).includes(defaultMultipartChecksumType(alg)), alg);
    }
  });
});
