/**
 * SigV4/SigV2 verification against the examples AWS publishes (S3 API reference, "Signature
 * calculations for the Authorization header", "Authenticating requests: using query
 * parameters", "Signature calculations for the Authorization Header: Transferring payload in
 * multiple chunks", and the SigV2 RESTAuthentication examples), plus the cases S3 refuses.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import bunyan from 'bunyan';
import { SignatureAuthenticator } from '../../worker/s3/signature-auth.js';
import { CredentialStore } from '../../worker/s3/credentials.js';
import { S3Error } from '../../worker/s3/errors.js';
import { AwsChunkedDecoder, ChunkSignatureError, chunkVerificationOf } from '../../worker/s3/aws-chunked.js';
import { ChunkSigner, EMPTY_SHA256, canonicalQuery, canonicalUri, sha256Hex, signingKey } from '../../worker/s3/sigv4.js';
import { canonicalResourceV2 } from '../../worker/s3/sigv2.js';
import { parseCredentials, CredentialsFileError } from '../../common/credentials-file.js';
import { redactUrl } from '../../common/log.js';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const T2013 = Date.UTC(2013, 4, 24, 0, 0, 0);

/** The parts of a request the authenticator reads (rawHeaders keeps the order and repeats as sent). */
function request(method: string, url: string, headers: [string, string][]): IncomingMessage {
  const lower: Record<string, string> = {};
  for (const [k, v] of headers) lower[k.toLowerCase()] = lower[k.toLowerCase()] !== undefined ? `${lower[k.toLowerCase()]}, ${v}` : v;
  return { method, url, headers: lower, rawHeaders: headers.flat() } as unknown as IncomingMessage;
}

function authenticator(now: number, opts: { region?: string; domains?: string[]; secret?: string; akid?: string } = {}): SignatureAuthenticator {
  const table = new Map([[opts.akid ?? AKID, { accessKeyId: opts.akid ?? AKID, secretAccessKey: opts.secret ?? SECRET, user: 'exampleuser' }]]);
  return new SignatureAuthenticator({ credentials: { lookup: (k) => table.get(k) }, region: opts.region ?? 'us-east-1', virtualHostDomains: opts.domains ?? [], now: () => now });
}

function s3Error(code: string, check?: (e: S3Error) => void): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof S3Error, `expected S3Error ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check?.(err);
    return true;
  };
}

const v4 = (headers: string, sig: string) => `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request, SignedHeaders=${headers}, Signature=${sig}`;

// GET Object, first 10 bytes (the S3 docs' first example).
const getRange = (range = 'bytes=0-9', auth = v4('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41')) => request('GET', '/test.txt', [
  ['Host', 'examplebucket.s3.amazonaws.com'],
  ['Authorization', auth],
  ['Range', range],
  ['x-amz-content-sha256', EMPTY_SHA256],
  ['x-amz-date', '20130524T000000Z'],
]);

describe('SigV4 header auth: the S3 documentation examples', () => {
  it('GET Object with Range verifies', () => {
    assert.deepEqual(authenticator(T2013).authenticate(getRange()), { user: 'exampleuser', method: 'sigv4' });
  });

  it('PUT Object with a "$" in the key and a Date header verifies', () => {
    const req = request('PUT', '/test%24file.text', [
      ['Host', 'examplebucket.s3.amazonaws.com'],
      ['Date', 'Fri, 24 May 2013 00:00:00 GMT'],
      ['Authorization', v4('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd')],
      ['x-amz-date', '20130524T000000Z'],
      ['x-amz-storage-class', 'REDUCED_REDUNDANCY'],
      ['x-amz-content-sha256', sha256Hex('Welcome to Amazon S3.')],
    ]);
    assert.equal(authenticator(T2013).authenticate(req).method, 'sigv4');
  });

  it('GET ?lifecycle (a bare sub-resource) verifies', () => {
    const req = request('GET', '/?lifecycle', [
      ['Host', 'examplebucket.s3.amazonaws.com'],
      ['x-amz-date', '20130524T000000Z'],
      ['x-amz-content-sha256', EMPTY_SHA256],
      ['Authorization', v4('host;x-amz-content-sha256;x-amz-date', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543')],
    ]);
    assert.equal(authenticator(T2013).authenticate(req).method, 'sigv4');
  });

  it('GET Bucket (list) with a query verifies, and without spaces after the commas too (s3cmd)', () => {
    const sig = '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7';
    for (const auth of [v4('host;x-amz-content-sha256;x-amz-date', sig), v4('host;x-amz-content-sha256;x-amz-date', sig).replace(/, /g, ',')]) {
      const req = request('GET', '/?max-keys=2&prefix=J', [
        ['Host', 'examplebucket.s3.amazonaws.com'],
        ['x-amz-date', '20130524T000000Z'],
        ['x-amz-content-sha256', EMPTY_SHA256],
        ['Authorization', auth],
      ]);
      assert.equal(authenticator(T2013).authenticate(req).method, 'sigv4');
    }
  });

  it('a tampered header, a wrong secret, an unknown key and a skewed clock are refused as S3 refuses them', () => {
    assert.throws(() => authenticator(T2013).authenticate(getRange('bytes=0-10')), s3Error('SignatureDoesNotMatch', (e) => {
      assert.equal(e.status, 403);
      assert.match(e.extra.CanonicalRequest, /^GET\n\/test\.txt\n\nhost:examplebucket\.s3\.amazonaws\.com\nrange:bytes=0-10\n/);
      assert.match(e.extra.StringToSign, /^AWS4-HMAC-SHA256\n20130524T000000Z\n20130524\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/);
    }));
    assert.throws(() => authenticator(T2013, { secret: 'not-the-secret' }).authenticate(getRange()), s3Error('SignatureDoesNotMatch'));
    assert.throws(() => authenticator(T2013, { akid: 'SOMEONEELSE' }).authenticate(getRange()), s3Error('InvalidAccessKeyId', (e) => assert.equal(e.extra.AWSAccessKeyId, AKID)));
    assert.throws(() => authenticator(T2013 + 16 * 60_000).authenticate(getRange()), s3Error('RequestTimeTooSkewed', (e) => {
      assert.equal(e.status, 403);
      assert.equal(e.extra.ServerTime, '2013-05-24T00:16:00Z');
      assert.equal(e.extra.RequestTime, '20130524T000000Z');
    }));
    // 14 minutes off is within S3's tolerance.
    assert.equal(authenticator(T2013 - 14 * 60_000).authenticate(getRange()).method, 'sigv4');
    assert.throws(() => authenticator(T2013, { region: 'eu-west-1' }).authenticate(getRange()), s3Error('AuthorizationHeaderMalformed', (e) => assert.equal(e.extra.Region, 'eu-west-1')));
    assert.throws(() => authenticator(T2013).authenticate(getRange(undefined, v4('range;x-amz-content-sha256;x-amz-date', 'f0e8'))), s3Error('AuthorizationHeaderMalformed'));
    assert.throws(() => authenticator(T2013).authenticate(getRange(undefined, 'AWS4-HMAC-SHA256 Credential=x')), s3Error('AuthorizationHeaderMalformed'));
    assert.throws(() => authenticator(T2013).authenticate(getRange(undefined, 'Bearer abc')), s3Error('InvalidArgument'));
  });

  it('an unsigned x-amz-* header is refused', () => {
    const req = getRange();
    (req.rawHeaders as string[]).push('x-amz-meta-evil', '1');
    (req.headers as Record<string, string>)['x-amz-meta-evil'] = '1';
    assert.throws(() => authenticator(T2013).authenticate(req), s3Error('AccessDenied'));
  });

  it('a request re-signed for a peer (DeleteObjects\' per-key DELETE) verifies at the peer as the same user', () => {
    const a = authenticator(T2013);
    const callerHeaders = { authorization: getRange().headers.authorization as string };
    const headers = a.peerHeaders(callerHeaders, 'DELETE', '127.0.0.1:29998', '/bucket/a%20key')!;
    const peer = request('DELETE', '/bucket/a%20key', [['Host', '127.0.0.1:29998'], ...Object.entries(headers)]);
    assert.deepEqual(a.authenticate(peer), { user: 'exampleuser', method: 'sigv4' });
    const elsewhere = request('DELETE', '/bucket/other', [['Host', '127.0.0.1:29998'], ...Object.entries(headers)]);
    assert.throws(() => a.authenticate(elsewhere), s3Error('SignatureDoesNotMatch'));
    assert.equal(a.peerHeaders({}, 'DELETE', 'h', '/b/k'), undefined);
  });

  it('no credentials at all is anonymous, not an error', () => {
    assert.deepEqual(authenticator(T2013).authenticate(request('GET', '/b/k', [['Host', 'h']])), { user: '', method: 'anonymous' });
  });
});

describe('presigned SigV4 URLs', () => {
  const url = (expires = '86400', sig = 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404') =>
    `/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${AKID}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=${expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig}`;
  const get = (u: string) => request('GET', u, [['Host', 'examplebucket.s3.amazonaws.com']]);

  it('the S3 docs example verifies within its day and expires after it', () => {
    assert.equal(authenticator(T2013 + 3600_000).authenticate(get(url())).method, 'sigv4');
    assert.throws(() => authenticator(T2013 + 86_401_000).authenticate(get(url())), s3Error('AccessDenied', (e) => {
      assert.equal(e.message, 'Request has expired');
      assert.equal(e.extra.Expires, '2013-05-25T00:00:00Z');
    }));
  });

  it('a changed expiry breaks the signature; more than 7 days is refused outright', () => {
    assert.throws(() => authenticator(T2013).authenticate(get(url('86401'))), s3Error('SignatureDoesNotMatch'));
    assert.throws(() => authenticator(T2013).authenticate(get(url('604801'))), s3Error('AuthorizationQueryParametersError', (e) => assert.equal(e.status, 400)));
    assert.throws(() => authenticator(T2013).authenticate(get(url('86400') + '&extra=1')), s3Error('SignatureDoesNotMatch'));
  });
});

describe('signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), the S3 docs example', () => {
  const seed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
  const chunkSigs = ['ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648', '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497', 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'];
  const data = [Buffer.alloc(65536, 'a'), Buffer.alloc(1024, 'a'), Buffer.alloc(0)];
  const seedRequest = () => request('PUT', '/examplebucket/chunkObject.txt', [
    ['Host', 's3.amazonaws.com'],
    ['x-amz-date', '20130524T000000Z'],
    ['x-amz-storage-class', 'REDUCED_REDUNDANCY'],
    ['Authorization', v4('content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class', seed)],
    ['x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'],
    ['Content-Encoding', 'aws-chunked'],
    ['x-amz-decoded-content-length', '66560'],
    ['Content-Length', '66824'],
  ]);
  const body = (sigs: string[], chunks = data) => Buffer.concat(chunks.flatMap((d, i) => [Buffer.from(`${d.length.toString(16)};chunk-signature=${sigs[i]}\r\n`), d, Buffer.from('\r\n')]));

  async function decode(req: IncomingMessage, raw: Buffer): Promise<Buffer> {
    const decoder = new AwsChunkedDecoder(chunkVerificationOf(req));
    const out: Buffer[] = [];
    await pipeline(Readable.from([raw.subarray(0, 1000), raw.subarray(1000, 40000), raw.subarray(40000)]), decoder, new Writable({ write(c: Buffer, _e, done) { out.push(c); done(); } }));
    return Buffer.concat(out);
  }

  it('the seed signature verifies and the chain reproduces every chunk signature', () => {
    const signer = new ChunkSigner(signingKey(SECRET, '20130524', 'us-east-1', 's3'), '20130524T000000Z', '20130524/us-east-1/s3/aws4_request', seed);
    assert.deepEqual(data.map((d) => signer.next(sha256Hex(d))), chunkSigs);
    assert.equal(body(chunkSigs).length, 66824);
  });

  it('the decoder accepts the example body and refuses a flipped byte or a reordered chain', async () => {
    const req = seedRequest();
    assert.equal(authenticator(T2013).authenticate(req).method, 'sigv4');
    assert.equal((await decode(req, body(chunkSigs))).length, 66560);

    const flipped = body(chunkSigs);
    flipped[70000 - 4000] ^= 1;
    const req2 = seedRequest();
    authenticator(T2013).authenticate(req2);
    await assert.rejects(decode(req2, flipped), (e) => e instanceof ChunkSignatureError);

    const req3 = seedRequest();
    authenticator(T2013).authenticate(req3);
    await assert.rejects(decode(req3, body([chunkSigs[1], chunkSigs[0], chunkSigs[2]], [data[1], data[0], data[2]])), (e) => e instanceof ChunkSignatureError);

    const req4 = seedRequest();
    authenticator(T2013).authenticate(req4);
    await assert.rejects(decode(req4, body(chunkSigs).subarray(0, 66824 - 90)), /ended early|signature/);
  });

  it('a signed trailer is checked', async () => {
    const key = signingKey(SECRET, '20130524', 'us-east-1', 's3');
    const scope = '20130524/us-east-1/s3/aws4_request';
    const signer = new ChunkSigner(key, '20130524T000000Z', scope, seed);
    const sigs = data.map((d) => signer.next(sha256Hex(d)));
    const trailer = 'x-amz-checksum-crc32:sOO8/Q==';
    const trailerSig = signer.trailer(`${trailer}\n`);
    const make = (t: string) => Buffer.concat([body(sigs).subarray(0, body(sigs).length - 2), Buffer.from(`${t}\r\nx-amz-trailer-signature:${trailerSig}\r\n\r\n`)]);
    const run = (raw: Buffer) => {
      const decoder = new AwsChunkedDecoder({ signer: new ChunkSigner(key, '20130524T000000Z', scope, seed), signedTrailer: true });
      return pipeline(Readable.from([raw]), decoder, new Writable({ write(_c, _e, done) { done(); } })).then(() => decoder);
    };
    assert.equal((await run(make(trailer))).trailers.get('x-amz-checksum-crc32'), 'sOO8/Q==');
    await assert.rejects(run(make('x-amz-checksum-crc32:sOO8/A==')), (e) => e instanceof ChunkSignatureError);
  });
});

describe('SigV2 (HMAC-SHA1), the S3 documentation examples', () => {
  it('GET in a virtual-hosted bucket verifies', () => {
    const req = request('GET', '/photos/puppy.jpg', [
      ['Host', 'awsexamplebucket1.us-west-1.s3.amazonaws.com'],
      ['Date', 'Tue, 27 Mar 2007 19:36:42 +0000'],
      ['Authorization', `AWS ${AKID}:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=`],
    ]);
    const now = Date.parse('Tue, 27 Mar 2007 19:40:00 +0000');
    assert.deepEqual(authenticator(now, { domains: ['us-west-1.s3.amazonaws.com'] }).authenticate(req), { user: 'exampleuser', method: 'sigv4' });
    assert.throws(() => authenticator(now + 3600_000, { domains: ['us-west-1.s3.amazonaws.com'] }).authenticate(req), s3Error('RequestTimeTooSkewed'));
    assert.throws(() => authenticator(now, { domains: [] }).authenticate(req), s3Error('SignatureDoesNotMatch'));
  });

  it('PUT with Content-MD5, Content-Type and x-amz-* headers verifies', () => {
    const req = request('PUT', '/quotes/nelson', [
      ['Content-Md5', 'c8fdb181845a4ca6b8fec737b3581d76'],
      ['Content-Type', 'text/html'],
      ['Date', 'Thu, 17 Nov 2005 18:49:58 GMT'],
      ['X-Amz-Meta-Author', 'foo@bar.com'],
      ['X-Amz-Magic', 'abracadabra'],
      ['Authorization', 'AWS 44CF9590006BF252F707:jZNOcbfWmD/A/f3hSvVzXZjM2HU='],
    ]);
    const a = authenticator(Date.parse('Thu, 17 Nov 2005 18:50:00 GMT'), { akid: '44CF9590006BF252F707', secret: 'OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV' });
    assert.equal(a.authenticate(req).method, 'sigv4');
  });

  it('the canonicalized resource keeps sub-resources, decoded and sorted, and drops other parameters', () => {
    assert.equal(canonicalResourceV2('', '/b/k%20x', 'versionId=3%2F&response-content-type=text%2Fplain&AWSAccessKeyId=A&Expires=1&Signature=x&foo=bar'), '/b/k%20x?response-content-type=text/plain&versionId=3/');
    assert.equal(canonicalResourceV2('/b', '/', 'acl'), '/b/?acl');
  });
});

describe('canonical URI and query (S3-CLIENTS S1, S2)', () => {
  it('re-encodes the path as sent, keeping "/", without normalizing', () => {
    assert.equal(canonicalUri('/b/a b+c~d!e'), '/b/a%20b%2Bc~d%21e');
    assert.equal(canonicalUri('/b/%E6%97%A5%2Fx'), '/b/%E6%97%A5/x');
    assert.equal(canonicalUri('/b//./x/../y'), '/b//./x/../y');
    assert.equal(canonicalUri('/b/100%'), '/b/100%25');
  });

  it('decodes and re-encodes names and values, sorts them, and gives bare names an "="', () => {
    assert.equal(canonicalQuery('prefix=dir/&uploads&delimiter=%2F&a=b c'), 'a=b%20c&delimiter=%2F&prefix=dir%2F&uploads=');
    assert.equal(canonicalQuery('X-Amz-Signature=abc&x-id=PutObject', new Set(['X-Amz-Signature'])), 'x-id=PutObject');
    assert.equal(canonicalQuery('b=2&a=2&a=1'), 'a=1&a=2&b=2');
  });
});

describe('the credentials file', () => {
  it('parses lines and comments and rejects a malformed file whole', () => {
    const t = parseCredentials('# keys\nAK1 secret-1-xxxxx alice\n\n  AK2\tsecret-2-xxxxx   bob  \n');
    assert.deepEqual([...t.values()].map((c) => [c.accessKeyId, c.user]), [['AK1', 'alice'], ['AK2', 'bob']]);
    assert.throws(() => parseCredentials('AK1 secret-1-xxxxx\n'), CredentialsFileError);
    assert.throws(() => parseCredentials('AK1 secret-1-xxxxx a\nAK1 secret-2-xxxxx b\n'), /twice/);
  });

  it('reloads a changed file and keeps the previous table when the new one is malformed', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'creds-'));
    const file = path.join(dir, 'c');
    const log = bunyan.createLogger({ name: 't', streams: [{ stream: new Writable({ write(_c, _e, d) { d(); } }) }] });
    const store = new CredentialStore(file, 0, log);
    try {
      await store.start();
      assert.equal(store.size, 0);
      await fs.writeFile(file, 'AK1 secret-1-xxxxx alice\n');
      await store.reload();
      assert.equal(store.lookup('AK1')?.user, 'alice');
      await fs.writeFile(file, 'AK1 secret-1-xxxxx alice\nbroken line\n');
      await store.reload();
      assert.equal(store.lookup('AK1')?.user, 'alice');
      await fs.writeFile(file, 'AK2 secret-2-xxxxx bob\n');
      await store.reload();
      assert.equal(store.lookup('AK1'), undefined);
      assert.equal(store.lookup('AK2')?.user, 'bob');
    } finally {
      store.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('log redaction', () => {
  it('hides presigned signatures in logged URLs', () => {
    assert.equal(redactUrl('/b/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&x-id=GetObject'), '/b/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=[redacted]&x-id=GetObject');
    assert.equal(redactUrl('/b/k?AWSAccessKeyId=A&Signature=xyz%3D&Expires=1'), '/b/k?AWSAccessKeyId=A&Signature=[redacted]&Expires=1');
    assert.equal(createHash('sha256').update('').digest('hex'), EMPTY_SHA256);
  });
});
