/**
 * Randomised requests against a real 3-worker cluster (write cache on, one bucket WRITE_BACK
 * with 2 replicas), over raw sockets so nothing tidies the bytes first: odd methods,
 * traversal and garbage paths, junk and huge headers, lying Content-Lengths, truncated XML,
 * random and aws-chunked bodies, early disconnects and a few slow bodies.
 *
 * Seeded: FUZZ_SEED=<n> replays a run (the seed is printed, and named in every failure).
 * Afterwards: every process alive and healthy; no 5xx but 503 and NotImplemented (each 500 is
 * listed with the request that caused it); nothing written outside the data roots; no temp
 * file left behind; no pinned space left once persistence settles.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { runCli, startCluster, tempDir, type TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/ports.js';
import { mulberry32 } from '../helpers/prng.js';
import { walk } from '../helpers/files.js';

const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const CONCURRENCY = 16;
const SLOW_BODIES = 4;
const SEED = Number(process.env.FUZZ_SEED ?? (Date.now() % 2 ** 31));
const ESCAPE = 'FUZZESCAPE';

interface FuzzRequest {
  n: number;
  worker: number;
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer;
  framing: 'exact' | 'chunked' | 'lie-more' | 'lie-less' | 'none' | 'disconnect' | 'slow';
}

interface Outcome { status?: number; head: string; body: string; error?: string }

function describeRequest(r: FuzzRequest): string {
  const hs = r.headers.map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v}`).join(' | ');
  const body = r.body.length > 120 ? `${JSON.stringify(r.body.subarray(0, 120).toString('latin1'))}…(${r.body.length} bytes)` : JSON.stringify(r.body.toString('latin1'));
  return `#${r.n} worker-${r.worker} ${r.method} ${r.target.length > 200 ? `${r.target.slice(0, 200)}…` : r.target} [${r.framing}] headers: ${hs} body: ${body}`;
}

class Generator {
  readonly rnd: () => number;
  uploadIds: string[] = [];
  constructor(seed: number) { this.rnd = mulberry32(seed); }
  int(n: number): number { return Math.floor(this.rnd() * n); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  chance(p: number): boolean { return this.rnd() < p; }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  bucket(): string {
    return this.pick(['fz', 'fz', 'fz', 'fzwb', 'fzwb', 'nosuch', '', '..', '%2e%2e', '.', 'UPPER', '_alluxio', 'a'.repeat(70), 'fz%2F..', 'b%00', '%ff', 'fz.', `${ESCAPE}b`, 'new-' + this.int(5)]);
  }

  key(): string {
    const plain = () => this.pick(['k1', 'k2', 'dir/k3', 'dir/sub/k4', 'big', `w${this.int(20)}`]);
    return this.pick([
      plain(), plain(), plain(), plain(),
      `../../${ESCAPE}-${this.int(100)}`, `%2e%2e/%2e%2e/${ESCAPE}`, `..%2f..%2f${ESCAPE}`, `a/../../${ESCAPE}`, `%2E%2E%2F${ESCAPE}`,
      'a%00b', '%00', '%ff%fe', 'dir//x', '/lead', '%2Flead', '日本/ü.txt', encodeURIComponent('日本/ü.txt'), 'x'.repeat(1100),
      'a/./b', './x', '..', '.', 'dir/', 'dir/..', `..\\..\\${ESCAPE}`, '%5c..%5c' + ESCAPE, 'a%2', 'a%zz', '~/.ssh', '.alluxio-tmp/x', '.alluxio-meta/x',
      'k1%20', 'ends.', 'a;b', 'a?b', 'a#b', encodeURIComponent('a+b c'),
    ]);
  }

  query(): string {
    const upload = this.uploadIds.length && this.chance(0.5) ? this.pick(this.uploadIds) : this.pick(['xyz', '', '..%2F..%2Fx', 'worker-0-' + 'a'.repeat(40), '%00', '../../' + ESCAPE]);
    return this.pick([
      '', '', '', '', '?uploads', `?uploadId=${upload}&partNumber=${this.pick(['1', '2', '0', '10001', '-1', 'abc', '1e3', '99999999999999999999'])}`, `?uploadId=${upload}`,
      '?tagging', '?acl', '?delete', '?list-type=2', '?list-type=2&max-keys=-1', '?list-type=2&max-keys=abc', '?list-type=2&continuation-token=garbage%00',
      '?prefix=..&delimiter=/', '?prefix=%2e%2e%2f&delimiter=', '?encoding-type=url&marker=%ff', '?max-keys=99999999999', '?versionId=1', '?partNumber=1',
      '?location', '?policy', '?cors', '?versioning', '?select&select-type=2', '?lifecycle', '?response-content-type=%0d%0aX-Injected:%20y',
      '?response-content-disposition=%0d%0a', '?uploads&max-uploads=-5', '?uploads&key-marker=%ff', `?uploadId=${upload}&max-parts=abc&part-number-marker=-1`,
      '?x-id=GetObject', '?alluxio-redirected=true', '?&&==&', '?%zz=1',
    ]);
  }

  target(): string {
    const r = this.int(20);
    if (r === 0) return this.pick(['/', '//', '///fz//k1', '*', 'fz/k1', '/_alluxio/health', '/_alluxio/stats', '/_alluxio/persist', '/_alluxio/persist/list', '/_alluxio/wc?path=/fz/k1&writeId=x', '/_alluxio/uploads?bucket=fz&prefix=', 'http://evil/fz/k1', '/%', '/?list-type=2']);
    const bucket = this.bucket();
    if (r < 4) return `/${bucket}${this.query()}`;
    return `/${bucket}/${this.key()}${this.query()}`;
  }

  xml(): Buffer {
    const part = () => `<Part><PartNumber>${this.pick(['1', '2', '0', '-3', 'x', '10001'])}</PartNumber><ETag>${this.pick(['"abc"', '&quot;d41d8cd98f00b204e9800998ecf8427e&quot;', '', '<x>'])}</ETag></Part>`;
    const obj = () => `<Object><Key>${this.pick(['k1', '../' + ESCAPE, '', 'a&amp;b', 'x'.repeat(1100), 'dir/k3'])}</Key></Object>`;
    const docs = [
      `<CompleteMultipartUpload>${Array.from({ length: this.int(5) }, part).join('')}</CompleteMultipartUpload>`,
      `<CompleteMultipartUpload>${part().repeat(this.pick([1, 10_001]))}</CompleteMultipartUpload>`,
      `<Delete><Quiet>${this.pick(['true', 'false', 'maybe'])}</Quiet>${Array.from({ length: this.pick([0, 1, 3, 1001]) }, obj).join('')}</Delete>`,
      `<Tagging><TagSet>${Array.from({ length: this.int(13) }, (_, i) => `<Tag><Key>k${i}</Key><Value>${'v'.repeat(this.pick([1, 300]))}</Value></Tag>`).join('')}</TagSet></Tagging>`,
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]><Delete><Object><Key>&lol4;</Key></Object></Delete>',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Tagging><TagSet><Tag><Key>a</Key><Value>&e;</Value></Tag></TagSet></Tagging>',
      '<Delete><Object><Key>k1</Key></Object>', '<<<>>>', '<a><b></a></b>', '', '<Delete/>', '<CompleteMultipartUpload/>', '\u0000\u0001<x>',
      `<Tagging>${'<TagSet>'.repeat(5000)}</Tagging>`,
    ];
    let doc = this.pick(docs);
    if (this.chance(0.2)) doc = doc.slice(0, this.int(doc.length + 1));
    return Buffer.from(doc);
  }

  body(method: string): Buffer {
    if (method === 'GET' || method === 'HEAD' || method === 'DELETE') return this.chance(0.9) ? Buffer.alloc(0) : this.bytes(this.int(64));
    const r = this.int(10);
    if (r < 3) return this.xml();
    if (r < 4) return Buffer.alloc(0);
    if (r < 5) {
      // aws-chunked framing, valid or broken.
      const data = this.bytes(this.int(2000));
      const sig = 'a'.repeat(64);
      return Buffer.from(this.pick([
        `${data.length.toString(16)};chunk-signature=${sig}\r\n${data.toString('latin1')}\r\n0;chunk-signature=${sig}\r\n\r\n`,
        `zz;chunk-signature=${sig}\r\nabc\r\n`, `5\r\nab`, `${data.length.toString(16)}\r\n${data.toString('latin1')}\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n`,
        `ffffffffffffffff;chunk-signature=x\r\n`, `0\r\nx-amz-checksum-crc32:${'A'.repeat(5000)}\r\n\r\n`, '\r\n\r\n\r\n',
      ]), 'latin1');
    }
    return this.bytes(this.pick([1, 100, 4096, 65_536, 300_000, this.int(20_000)]));
  }

  headers(method: string, body: Buffer): [string, string][] {
    const h: [string, string][] = [];
    const add = (k: string, v: string) => h.push([k, v]);
    const md5 = createHash('md5').update(body).digest('base64');
    const junk: (() => void)[] = [
      () => add('Range', this.pick(['bytes=0-0', 'bytes=5-1', 'bytes=-0', 'bytes=a-b', 'bytes=0-0,1-1', 'items=1-2', 'bytes=99999999999999999999-', 'bytes=-99999999999999', 'bytes=', 'bytes=1-', 'bytes=0-1048576'])),
      () => add(this.pick(['If-Modified-Since', 'If-Unmodified-Since', 'x-amz-copy-source-if-modified-since']), this.pick(['garbage', 'Sun, 06 Nov 1994 08:49:37 GMT', 'Tue, 31 Dec 9999 23:59:59 GMT', '0', '-1', 'Mon, 32 Foo 2020 99:99:99 GMT'])),
      () => add(this.pick(['If-Match', 'If-None-Match', 'x-amz-copy-source-if-match']), this.pick(['*', '"abc"', 'W/"x"', '', '"', ',,,', 'x'.repeat(500)])),
      () => add('Content-MD5', this.pick([md5, md5, 'not base64!', 'AAAA', '', '1B2M2Y8AsgTpgAmY7PhCfg==', '====', 'x'.repeat(100)])),
      () => add('x-amz-content-sha256', this.pick(['UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', '0'.repeat(64), 'zz', ''])),
      () => add('x-amz-decoded-content-length', this.pick(['0', '10', '-1', 'abc', '99999999999999999999', String(body.length)])),
      () => add('Content-Encoding', this.pick(['aws-chunked', 'gzip,aws-chunked', 'aws-chunked, aws-chunked', 'identity', ''])),
      () => add('x-amz-copy-source', this.pick(['fz/k1', '/fz/k1', `../../${ESCAPE}`, 'fz/..%2F..%2Fx', '%00', 'nosuch/k', 'fz/k1?versionId=x', 'fz', '', '/', 'fzwb/w1'])),
      () => add('x-amz-copy-source-range', this.pick(['bytes=0-0', 'bytes=5-1', 'bytes=x', 'bytes=0-99999999999'])),
      () => add('x-amz-metadata-directive', this.pick(['REPLACE', 'COPY', 'BOGUS'])),
      () => add(`x-amz-meta-${this.pick(['a', 'b', 'Ü', 'x'.repeat(100)])}`, this.pick(['v', 'x'.repeat(3000), '\t', 'ü'])),
      () => add('x-amz-tagging', this.pick(['a=b', '&&=', '=x', 'a=b&a=c', 'k'.repeat(200) + '=v', '%zz=1', Array.from({ length: 12 }, (_, i) => `k${i}=v`).join('&')])),
      () => add(`x-amz-checksum-${this.pick(['crc32', 'crc32c', 'sha1', 'sha256', 'crc64nvme', 'md5'])}`, this.pick(['AAAAAA==', 'garbage', ''])),
      () => add('x-amz-trailer', this.pick(['x-amz-checksum-crc32', 'x-amz-checksum-bogus', ''])),
      () => add('x-amz-sdk-checksum-algorithm', this.pick(['CRC32', 'MD5', 'crc64nvme', ''])),
      () => add('x-amz-checksum-algorithm', this.pick(['CRC32', 'SHA256', 'bogus'])),
      () => add('x-amz-checksum-type', this.pick(['FULL_OBJECT', 'COMPOSITE', 'x'])),
      () => add('Expect', this.pick(['100-continue', '100-CONTINUE', 'bogus'])),
      () => add('Authorization', this.pick(['AWS4-HMAC-SHA256 Credential=alice/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=' + 'a'.repeat(64), 'AWS alice:sig', 'Bearer x.y.z', 'garbage', ''])),
      () => add('Host', this.pick(['fz.s3.localhost', 'localhost', '', 'a'.repeat(300), '127.0.0.1:1', '[::1]'])),
      () => add('x-amz-date', this.pick(['garbage', '20260101T000000Z', ''])),
      () => add('x-amz-acl', this.pick(['private', 'public-read', 'bogus'])),
      () => add('x-amz-grant-read', 'id=x'),
      () => add('x-amz-storage-class', this.pick(['STANDARD', 'GLACIER', 'x'])),
      () => add('x-amz-server-side-encryption', this.pick(['AES256', 'aws:kms', 'x'])),
      () => add('x-alluxio-forwarded', this.pick(['worker-0', `worker-1:0123456789ABCDEF:${Math.floor(Date.now() / 1000)}:AAAA`, '::::', ''])),
      () => add('x-alluxio-request-id', this.pick(['0123456789ABCDEF', '../x', ''])),
      () => add('Content-Type', this.pick(['application/xml', 'text/plain; charset=%ff', '', 'x'.repeat(2000)])),
      () => add('Cache-Control', 'no-cache'),
      () => add('x-amz-junk-' + this.int(1000), this.bytes(20).toString('base64')),
      () => add('X-Huge', 'h'.repeat(this.pick([8_000, 40_000, 70_000]))),
      () => add('Connection', this.pick(['keep-alive', 'upgrade', 'close'])),
      () => add('Upgrade', 'websocket'),
    ];
    const n = this.int(6);
    for (let i = 0; i < n; i++) this.pick(junk)();
    return h;
  }

  next(n: number, workers: number, allowSlow: boolean): FuzzRequest {
    const method = this.pick(['GET', 'GET', 'GET', 'HEAD', 'HEAD', 'PUT', 'PUT', 'PUT', 'POST', 'POST', 'DELETE', 'DELETE', 'OPTIONS', 'PATCH', 'PROPFIND', 'TRACE', 'FOO', 'get', 'M-SEARCH']);
    const target = this.target();
    const body = this.body(method);
    const headers = this.headers(method, body);
    const f = this.int(100);
    const framing: FuzzRequest['framing'] = allowSlow && f === 0 ? 'slow' : f < 60 ? 'exact' : f < 75 ? 'chunked' : f < 82 ? 'lie-more' : f < 88 ? 'lie-less' : f < 93 ? 'none' : 'disconnect';
    return { n, worker: this.int(workers), method, target, headers, body, framing };
  }
}

function chunkedEncode(body: Buffer): Buffer {
  if (body.length === 0) return Buffer.from('0\r\n\r\n');
  return Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
}

/** Sends one request on a fresh connection and reads whatever comes back. */
function send(port: number, r: FuzzRequest, slowWaitMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      // Interim answers (100 Continue) come first; the final one counts.
      const text = Buffer.concat(chunks).toString('latin1').replace(/^(HTTP\/1\.[01] 1\d\d[^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, '');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : undefined, head: split >= 0 ? text.slice(0, split) : text.slice(0, 500), body: split >= 0 ? text.slice(split + 4, split + 4 + 2000) : '', error });
    };
    const timer = setTimeout(() => finish('timeout'), r.framing === 'slow' ? slowWaitMs + 30_000 : 30_000);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', (e) => finish(e.message));
    sock.on('connect', () => {
      const lines = [`${r.method} ${r.target} HTTP/1.1`];
      const names = new Set(r.headers.map(([k]) => k.toLowerCase()));
      if (!names.has('host')) lines.push(`Host: 127.0.0.1:${port}`);
      for (const [k, v] of r.headers) lines.push(`${k}: ${v}`);
      let payload = r.body;
      switch (r.framing) {
        case 'exact': case 'disconnect': case 'slow': lines.push(`Content-Length: ${r.body.length}`); break;
        case 'chunked': lines.push('Transfer-Encoding: chunked'); payload = chunkedEncode(r.body); break;
        case 'lie-more': lines.push(`Content-Length: ${r.body.length + 1 + (r.n % 5000)}`); break;
        case 'lie-less': lines.push(`Content-Length: ${Math.max(0, r.body.length - 1 - (r.n % 50))}`); break;
        case 'none': break;
      }
      // Always asked to close (a fuzzed Connection header joins it), so the answer ends with the connection.
      lines.push('Connection: close');
      const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
      if (r.framing === 'disconnect') {
        sock.write(Buffer.concat([head, payload.subarray(0, payload.length >> 1)]), () => setTimeout(() => finish('disconnected'), r.n % 20));
      } else if (r.framing === 'slow') {
        // Half the body, then silence past the server's body idle timeout.
        sock.write(Buffer.concat([head, payload.subarray(0, payload.length >> 1)]));
        setTimeout(() => { if (!done) sock.end(payload.subarray(payload.length >> 1)); }, slowWaitMs);
      } else {
        sock.write(Buffer.concat([head, payload]));
        // Half-close: a lying Content-Length must not hang the server (it sees the end of the stream).
        if (r.framing === 'lie-more') sock.end();
      }
    });
  });
}

describe(`fuzz: ${TOTAL} randomised requests (seed ${SEED}; FUZZ_SEED=${SEED} replays it)`, () => {
  let c: TestCluster;
  let root: string;
  let topBefore: string[];

  before(async () => {
    root = tempDir('fuzz');
    c = await startCluster({
      dataDir: path.join(root, 'cluster'),
      conf: {
        'alluxio.write.cache.enabled': 'true',
        'alluxio.worker.s3.request.body.idle.timeout': '2sec',
        'alluxio.worker.s3.virtual.host.domains': 's3.localhost',
        'alluxio.proxy.s3.multipart.upload.cleaner.enabled': 'false',
      },
    });
    for (const b of ['fz', 'fzwb']) assert.equal((await fetch(`${c.endpoint}/${b}`, { method: 'PUT' })).status, 200);
    const r = await runCli(['pathconfig', 'set', '/fzwb', '--policy', 'WRITE_BACK', '--replicas', '2'], { conf: c.cliConf() });
    assert.equal(r.code, 0, r.stderr);
    await c.waitSettled();
    for (const [b, k] of [['fz', 'k1'], ['fz', 'dir/k3'], ['fzwb', 'w1'], ['fz', 'big']]) {
      const body = k === 'big' ? Buffer.alloc(3 * 1024 * 1024, 7) : Buffer.from(`seed ${k}`);
      assert.equal((await fetch(`${c.endpoint}/${b}/${k}`, { method: 'PUT', body })).status, 200);
    }
    topBefore = [...(await fs.readdir(root)), ...(await fs.readdir(path.join(root, 'cluster'))).map((n) => `cluster/${n}`)].sort();
  });
  after(async () => { await c?.close(); });

  it('no crash, no 5xx, nothing outside the data roots, nothing leaked', async (t) => {
    t.diagnostic(`fuzz seed ${SEED}`);
    const gen = new Generator(SEED);
    // A few real uploads give the multipart paths something to chew on.
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${c.endpoint}/${i ? 'fz' : 'fzwb'}/mp${i}?uploads`, { method: 'POST' });
      const id = /<UploadId>([^<]+)</.exec(await res.text())?.[1];
      if (id) gen.uploadIds.push(encodeURIComponent(id));
    }
    const requests: FuzzRequest[] = [];
    let slow = 0;
    for (let n = 0; n < TOTAL; n++) {
      const r = gen.next(n, c.workers.length, slow < SLOW_BODIES && n % 997 === 1);
      if (r.framing === 'slow') slow++;
      requests.push(r);
    }
    const failures: string[] = [];
    const statuses = new Map<string, number>();
    let next = 0;
    const runOne = async () => {
      while (next < requests.length) {
        const r = requests[next++];
        const o = await send(c.workers[r.worker].s3Port, r, 3000);
        const key = o.status === undefined ? `none:${o.error ?? 'closed'}` : String(o.status);
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        if (o.status !== undefined && o.status >= 500) {
          const allowed = o.status === 503 || (o.status === 501 && (r.method === 'HEAD' || /<Code>NotImplemented<\/Code>/.test(o.body)));
          if (!allowed) failures.push(`${o.status} for ${describeRequest(r)}\n    -> ${o.head.split('\r\n')[0]} ${o.body.slice(0, 300)}`);
        }
        if (o.error === 'timeout' && o.status === undefined) failures.push(`no answer within 30 s: ${describeRequest(r)}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, runOne));
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);

    // Every process alive and healthy.
    for (const p of [c.coordinator, ...c.workers.map((w) => w.p!)]) assert.equal(p.proc.exitCode, null, `${p.name} exited (seed ${SEED})`);
    for (const w of c.workers) assert.equal((await fetch(`${w.endpoint}/_alluxio/health`)).status, 200, `${w.id} unhealthy (seed ${SEED})`);
    assert.deepEqual(failures, [], `seed ${SEED}: ${failures.length} bad answers:\n${failures.slice(0, 30).join('\n')}`);

    // Nothing outside the data roots: no new entries beside them, no escape-marked file anywhere but inside a bucket.
    const topAfter = [...(await fs.readdir(root)), ...(await fs.readdir(path.join(root, 'cluster'))).map((n) => `cluster/${n}`)].sort();
    assert.deepEqual(topAfter, topBefore, `seed ${SEED}: entries appeared beside the data roots`);
    const ufs = c.ufsRoot;
    for (const p of await walk(root)) {
      if (!path.basename(p).includes(ESCAPE)) continue;
      const rel = path.relative(ufs, p);
      // The bucket named `${ESCAPE}b` (made by a fuzzed CreateBucket) is a directory of the UFS root.
      const inBucket = !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel) && !rel.startsWith('.alluxio')
        && (rel.split(path.sep).length >= 2 || rel === `${ESCAPE}b`);
      assert.ok(inBucket || rel.startsWith('.alluxio-meta'), `seed ${SEED}: ${p} is outside every bucket`);
    }

    // Nothing leaked once the cluster settles: temp files, staged part temps, pinned space.
    await waitFor('write-back persistence to settle', async () => {
      for (const w of c.workers) {
        const s = await (await fetch(`${w.endpoint}/_alluxio/persist`)).json() as { queued: number; inFlight: number; pinnedBytes: number };
        if (s.queued !== 0 || s.inFlight !== 0) return false;
      }
      return true;
    }, 60_000, 250);
    const leaks: string[] = [];
    await waitFor('temp files to go', async () => {
      leaks.length = 0;
      const tmpUfs = path.join(ufs, '.alluxio-tmp');
      if (existsSync(tmpUfs)) leaks.push(...(await fs.readdir(tmpUfs)).map((f) => path.join(tmpUfs, f)));
      for (const w of c.workers) {
        const wcTmp = path.join(w.cacheDir, 'writecache', 'tmp');
        if (existsSync(wcTmp)) leaks.push(...(await fs.readdir(wcTmp)).map((f) => path.join(wcTmp, f)));
        for (const p of await walk(path.join(w.cacheDir, 'multipart'))) if (/(^|\/)tmp-[0-9a-f]+$|\.tmp$/.test(p)) leaks.push(p);
      }
      return leaks.length === 0;
    }, 20_000, 250).catch(() => undefined);
    assert.deepEqual(leaks, [], `seed ${SEED}: temp files left behind`);
    for (const w of c.workers) {
      const s = await (await fetch(`${w.endpoint}/_alluxio/persist`)).json() as { pinnedBytes: number; queued: number; failed: number };
      assert.equal(s.pinnedBytes, 0, `seed ${SEED}: ${w.id} still pins ${s.pinnedBytes} bytes with nothing to persist (${JSON.stringify(s)})`);
    }
  });
});
