import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder, AwsChunkedError } from '../../worker/s3/aws-chunked.js';

interface Decoded {
  data: Buffer;
  decoder: AwsChunkedDecoder;
}

/** Feeds `pieces` through a fresh decoder, as the HTTP body would arrive. */
async function decode(pieces: Buffer[]): Promise<Decoded> {
  const decoder = new AwsChunkedDecoder();
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk);
      done();
    },
  });
  await pipeline(Readable.from(pieces, { objectMode: false }), decoder, sink);
  return { data: Buffer.concat(out), decoder };
}

function bytewise(body: Buffer): Buffer[] {
  return Array.from({ length: body.length }, (_, i) => body.subarray(i, i + 1));
}

async function rejectsChunked(pieces: Buffer[], pattern?: RegExp): Promise<void> {
  await assert.rejects(decode(pieces), (err: unknown) => {
    assert.ok(err instanceof AwsChunkedError, `expected an AwsChunkedError, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

const crlf = '\r\n';

/** The body JS v3 sends for a stream of known length (S3-CLIENTS P2): unsigned, one data chunk, a CRC32 trailer. */
function jsV3Body(data: Buffer, crc32B64: string): Buffer {
  return Buffer.concat([
    Buffer.from(`${data.length.toString(16)}${crlf}`),
    data,
    Buffer.from(`${crlf}0${crlf}x-amz-checksum-crc32:${crc32B64}${crlf}${crlf}`),
  ]);
}

/** The example of https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html: 64 KiB + 1 KiB of 'a', signed. */
const SIGS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
function signedBody(): { body: Buffer; data: Buffer } {
  const a = Buffer.alloc(65536, 'a');
  const b = Buffer.alloc(1024, 'a');
  const body = Buffer.concat([
    Buffer.from(`10000;chunk-signature=${SIGS[0]}${crlf}`), a, Buffer.from(crlf),
    Buffer.from(`400;chunk-signature=${SIGS[1]}${crlf}`), b, Buffer.from(crlf),
    Buffer.from(`0;chunk-signature=${SIGS[2]}${crlf}${crlf}`),
  ]);
  return { body, data: Buffer.concat([a, b]) };
}

describe('AwsChunkedDecoder', () => {
  it('decodes the unsigned trailer form exactly as JS v3 sends it', async () => {
    const data = Buffer.from('hello world');
    const { data: out, decoder } = await decode([jsV3Body(data, 'DUoRhQ==')]);
    assert.deepEqual(out, data);
    assert.equal(decoder.decodedBytes, 11);
    assert.deepEqual(decoder.chunks, [{ size: 11, signature: undefined }, { size: 0, signature: undefined }]);
    assert.deepEqual([...decoder.trailers], [['x-amz-checksum-crc32', 'DUoRhQ==']]);
  });

  it('decodes an empty object (only the final chunk and the trailer)', async () => {
    const { data, decoder } = await decode([Buffer.from(`0${crlf}x-amz-checksum-crc32:AAAAAA==${crlf}${crlf}`)]);
    assert.equal(data.length, 0);
    assert.equal(decoder.trailers.get('x-amz-checksum-crc32'), 'AAAAAA==');
  });

  it('decodes the signed form, collecting chunk signatures', async () => {
    const { body, data } = signedBody();
    const { data: out, decoder } = await decode([body]);
    assert.deepEqual(out, data);
    assert.deepEqual(decoder.chunks, [
      { size: 65536, signature: SIGS[0] },
      { size: 1024, signature: SIGS[1] },
      { size: 0, signature: SIGS[2] },
    ]);
    assert.equal(decoder.trailers.size, 0);
  });

  it('decodes the signed trailer form, collecting trailers with lower-cased names', async () => {
    const body = Buffer.from([
      `5;chunk-signature=${SIGS[0]}`, 'hello',
      `0;chunk-signature=${SIGS[1]}`,
      'X-Amz-Checksum-CRC32C:sOO8/Q==',
      `x-amz-trailer-signature:${SIGS[2]}`,
      '', '',
    ].join(crlf));
    const { data, decoder } = await decode([body]);
    assert.equal(data.toString(), 'hello');
    assert.deepEqual(decoder.chunks.map((c) => c.signature), [SIGS[0], SIGS[1]]);
    assert.deepEqual(new Map(decoder.trailers), new Map([
      ['x-amz-checksum-crc32c', 'sOO8/Q=='],
      ['x-amz-trailer-signature', SIGS[2]],
    ]));
  });

  it('accepts upper-case hex sizes', async () => {
    const payload = Buffer.alloc(0xAB, 'z');
    const body = Buffer.concat([Buffer.from(`AB${crlf}`), payload, Buffer.from(`${crlf}0${crlf}${crlf}`)]);
    assert.deepEqual((await decode([body])).data, payload);
  });

  it('gives identical output when the body arrives one byte at a time', async () => {
    const jsBody = jsV3Body(Buffer.from('byte by byte, with\r\nCRLF and 0\r\n inside the data'), 'AbCdEf==');
    const whole = await decode([jsBody]);
    const split = await decode(bytewise(jsBody));
    assert.deepEqual(split.data, whole.data);
    assert.deepEqual(split.decoder.chunks, whole.decoder.chunks);
    assert.deepEqual([...split.decoder.trailers], [...whole.decoder.trailers]);

    const { body, data } = signedBody();
    const signed = await decode(bytewise(body));
    assert.deepEqual(signed.data, data);
    assert.deepEqual(signed.decoder.chunks.map((c) => c.signature), SIGS);
  });

  it('gives identical output whichever byte the body is split at', async () => {
    const body = Buffer.from([
      '3;chunk-signature=aaaa', 'abc',
      '4;chunk-signature=bbbb', 'd\r\nf',
      '0;chunk-signature=cccc',
      'x-amz-checksum-crc32:Zm9vYg==',
      '', '',
    ].join(crlf));
    for (let i = 0; i <= body.length; i++) {
      const { data, decoder } = await decode([body.subarray(0, i), body.subarray(i)]);
      assert.equal(data.toString(), 'abcd\r\nf', `split at ${i}`);
      assert.deepEqual(decoder.chunks.map((c) => c.signature), ['aaaa', 'bbbb', 'cccc'], `split at ${i}`);
      assert.equal(decoder.trailers.get('x-amz-checksum-crc32'), 'Zm9vYg==', `split at ${i}`);
    }
  });

  it('decodes a 1 MiB payload sent in many chunks, in any piece size', async () => {
    const payload = randomBytes(1024 * 1024 + 17);
    const parts: Buffer[] = [];
    for (let off = 0; off < payload.length; off += 65536) {
      const chunk = payload.subarray(off, off + 65536);
      parts.push(Buffer.from(`${chunk.length.toString(16)}${crlf}`), chunk, Buffer.from(crlf));
    }
    parts.push(Buffer.from(`0${crlf}x-amz-checksum-crc32:AAAAAA==${crlf}${crlf}`));
    const body = Buffer.concat(parts);
    const md5 = createHash('md5').update(payload).digest('hex');
    for (const piece of [body.length, 65536, 8191, 1000, 3]) {
      const pieces: Buffer[] = [];
      for (let off = 0; off < body.length; off += piece) pieces.push(body.subarray(off, off + piece));
      const { data, decoder } = await decode(pieces);
      assert.equal(data.length, payload.length, `pieces of ${piece}`);
      assert.equal(createHash('md5').update(data).digest('hex'), md5, `pieces of ${piece}`);
      assert.equal(decoder.decodedBytes, payload.length);
      assert.equal(decoder.chunks.length, 18);
    }
  });

  describe('refuses broken framing', () => {
    it('data longer than its declared size', async () => {
      const body = Buffer.from(`5${crlf}helloEXTRA${crlf}0${crlf}${crlf}`);
      await rejectsChunked([body], /longer/);
      await rejectsChunked(bytewise(body), /longer/);
    });

    it('data shorter than its declared size', async () => {
      await rejectsChunked([Buffer.from(`a${crlf}hello${crlf}0${crlf}${crlf}`)]);
    });

    const full = jsV3Body(Buffer.from('hello world'), 'DUoRhQ==').toString('latin1');
    const truncations: [string, string][] = [
      ['inside the size line', full.slice(0, 1)],
      ['after the size line', full.slice(0, full.indexOf(crlf) + 2)],
      ['inside the data', full.slice(0, full.indexOf('world'))],
      ['before the CRLF after the data', full.slice(0, full.indexOf('world') + 5)],
      ['before the final chunk', full.slice(0, full.indexOf('world') + 7)],
      ['inside a trailer line', full.slice(0, full.indexOf('DUoR'))],
      ['an empty body', ''],
    ];
    for (const [where, text] of truncations) {
      it(`a body truncated ${where}`, async () => {
        await rejectsChunked([Buffer.from(text, 'latin1')], /ended early/);
      });
    }

    const garbage: [string, string][] = [
      ['not hex', `zz${crlf}hello${crlf}0${crlf}${crlf}`],
      ['empty size line', `${crlf}hello${crlf}0${crlf}${crlf}`],
      ['negative size', `-5${crlf}hello${crlf}0${crlf}${crlf}`],
      ['0x prefix', `0x5${crlf}hello${crlf}0${crlf}${crlf}`],
      ['plain text body', `hello world${crlf}`],
    ];
    for (const [name, text] of garbage) {
      it(`a garbage size line: ${name}`, async () => {
        await rejectsChunked([Buffer.from(text)], /bad chunk size line/);
      });
    }

    it('a size line that never ends', async () => {
      await rejectsChunked([Buffer.alloc(10_000, '1')], /too long/);
    });

    it('a trailer line without a colon', async () => {
      await rejectsChunked([Buffer.from(`5${crlf}hello${crlf}0${crlf}not-a-trailer${crlf}${crlf}`)], /bad trailer line/);
    });

    it('data after the final chunk', async () => {
      await rejectsChunked([Buffer.from(`5${crlf}hello${crlf}0${crlf}${crlf}6${crlf}world!${crlf}`)], /after the final chunk/);
    });
  });
});
