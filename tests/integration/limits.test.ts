/**
 * Request limits, over raw HTTP against a real 2-worker cluster (write cache on; `limwb` is
 * WRITE_BACK with 2 replicas). Each group asserts the S3 error code a client gets and that the
 * refused request stored nothing: no object, no temp file, no pinned space.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { runCli, startCluster, tempDir, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { waitFor } from '../helpers/ports.js';
import { errorCode, rawExchange, rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { walk } from '../helpers/files.js';

const B = 'lim';
const WB = 'limwb';
const MiB = 1024 * 1024;

let c: TestCluster;

function host(w: TestWorker): string {
  return `127.0.0.1:${w.s3Port}`;
}

/** One request on its own connection; the answer (or why there is none). */
async function one(w: TestWorker, method: string, target: string, headers: Record<string, string | number>, body?: Buffer | string, head = false): Promise<RawResponse> {
  const r = await rawExchange(w.s3Port, [rawRequest(method, target, { Host: host(w), Connection: 'close', ...headers }, body)], { responses: 1, heads: [head] });
  assert.equal(r.timedOut, false, `${method} ${target}: no answer`);
  assert.equal(r.responses.length, 1, `${method} ${target}: connection closed without an answer`);
  return r.responses[0];
}

function expectError(r: RawResponse, status: number, code: string): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text.slice(0, 300)}`);
  assert.equal(errorCode(r), code, r.text.slice(0, 300));
}

/** Temp files of every writer: the UFS's, the write cache's, staged multipart parts. */
async function tempFiles(): Promise<string[]> {
  const found: string[] = [];
  const ufsTmp = path.join(c.ufsRoot, '.alluxio-tmp');
  for (const f of await fs.readdir(ufsTmp).catch(() => [] as string[])) if (!f.startsWith('.alluxio-probe')) found.push(path.join(ufsTmp, f));
  for (const w of c.workers) {
    const wcTmp = path.join(w.cacheDir, 'writecache', 'tmp');
    for (const f of await fs.readdir(wcTmp).catch(() => [] as string[])) found.push(path.join(wcTmp, f));
    for (const p of await walk(path.join(w.cacheDir, 'multipart'))) if (/(^|\/)tmp-[0-9a-f]+$|\.tmp$/.test(p)) found.push(p);
  }
  return found;
}

async function pinnedBytes(): Promise<number[]> {
  return Promise.all(c.workers.map(async (w) => ((await (await fetch(`${w.endpoint}/_alluxio/persist`)).json()) as { pinnedBytes: number }).pinnedBytes));
}

/** Nothing of a refused write is left: no object (on any worker), no temp file, no pinned byte. */
async function assertNothingStored(bucket: string, key: string): Promise<void> {
  for (const w of c.workers) {
    const r = await one(w, 'HEAD', `/${bucket}/${key}`, {}, undefined, true);
    assert.equal(r.status, 404, `${bucket}/${key} exists (HEAD via ${w.id} answered ${r.status})`);
  }
  assert.equal(existsSync(path.join(c.ufsRoot, bucket, key)), false, `${bucket}/${key} reached the UFS`);
  let temps: string[] = [];
  await waitFor('temp files to go', async () => (temps = await tempFiles()).length === 0, 20_000, 200).catch(() => undefined);
  assert.deepEqual(temps, [], 'temp files left behind');
  let pinned: number[] = [];
  await waitFor('pinned space to be released', async () => (pinned = await pinnedBytes()).every((n) => n === 0), 20_000, 200).catch(() => undefined);
  assert.deepEqual(pinned, c.workers.map(() => 0), 'pinned space left behind');
}

/** An aws-chunked body whose framing breaks at the first line: refused once reading has begun. */
function brokenChunkedPut(w: TestWorker, target: string, size: number): Buffer {
  return rawRequest('PUT', target, {
    Host: host(w),
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'Content-Length': size,
  }, Buffer.concat([Buffer.from('zz;chunk-signature=nothex\r\n'), randomBytes(size - 27)]));
}

before(async () => {
  c = await startCluster({
    workers: 2,
    dataDir: tempDir('limits'),
    conf: {
      'alluxio.write.cache.enabled': 'true',
      'alluxio.worker.s3.request.body.idle.timeout': '2sec',
      'alluxio.worker.s3.request.headers.timeout': '2sec',
      'alluxio.proxy.s3.multipart.upload.cleaner.enabled': 'false',
    },
  });
  for (const b of [B, WB]) assert.equal((await fetch(`${c.endpoint}/${b}`, { method: 'PUT' })).status, 200);
  const r = await runCli(['pathconfig', 'set', `/${WB}`, '--policy', 'WRITE_BACK', '--replicas', '2'], { conf: c.cliConf() });
  assert.equal(r.code, 0, r.stderr);
  await c.waitSettled();
});

after(async () => { await c?.close(); });

describe('a refused upload never leaves its connection half-read', () => {
  it('the next request on a keep-alive connection is answered (direct to the owner)', async () => {
    const w = c.workers[0];
    const key = c.keyOwnedBy(w, B, 'halfread-');
    assert.equal((await fetch(`${w.endpoint}/${B}/${key}-ok`, { method: 'PUT', body: 'ok' })).status, 200);
    const r = await rawExchange(w.s3Port, [
      brokenChunkedPut(w, `/${B}/${key}`, 300_000),
      rawRequest('GET', `/${B}/${key}-ok`, { Host: host(w) }),
    ], { responses: 2, waitMs: 20_000 });
    assert.equal(r.timedOut, false, `the second request got no answer (answers: ${r.responses.map((x) => x.status).join(',')})`);
    expectError(r.responses[0], 400, 'IncompleteBody');
    assert.equal(r.responses[1].status, 200);
    assert.equal(r.responses[1].text, 'ok');
    await assertNothingStored(B, key);
  });

  it('a proxied refusal does not poison the pooled connection to the owner', async () => {
    const [via, owner] = c.workers;
    const bad = c.keyOwnedBy(owner, B, 'poison-');
    const good = c.keyOwnedBy(owner, B, 'after-poison-');
    assert.equal((await fetch(`${owner.endpoint}/${B}/${good}`, { method: 'PUT', body: 'fine' })).status, 200);
    const refused = await rawExchange(via.s3Port, [brokenChunkedPut(via, `/${B}/${bad}`, 300_000)], { responses: 1, waitMs: 20_000 });
    expectError(refused.responses[0], 400, 'IncompleteBody');
    // The pool hands out the connection freed last: these reach the owner on the one the refusal used.
    for (let i = 0; i < 3; i++) {
      const r = await rawExchange(via.s3Port, [rawRequest('GET', `/${B}/${good}`, { Host: host(via), Connection: 'close' })], { responses: 1, waitMs: 20_000 });
      assert.equal(r.timedOut, false, `forwarded GET #${i} got no answer`);
      assert.equal(r.responses[0].status, 200);
      assert.equal(r.responses[0].text, 'fine');
    }
    await assertNothingStored(B, bad);
  });
});

/** A fresh multipart upload of `bucket/key` (through worker 0). */
async function createUpload(bucket: string, key: string): Promise<string> {
  const r = await one(c.workers[0], 'POST', `/${bucket}/${key}?uploads`, { 'Content-Length': 0 });
  assert.equal(r.status, 200, r.text);
  const id = /<UploadId>([^<]+)<\/UploadId>/.exec(r.text)?.[1];
  assert.ok(id, r.text);
  return id;
}

async function uploadPart(bucket: string, key: string, uploadId: string, n: number, body: Buffer): Promise<string> {
  const r = await one(c.workers[0], 'PUT', `/${bucket}/${key}?uploadId=${encodeURIComponent(uploadId)}&partNumber=${n}`, { 'Content-Length': body.length }, body);
  assert.equal(r.status, 200, r.text);
  return r.headers.etag;
}

function completeXml(parts: { n: number | string; etag: string }[]): string {
  return `<CompleteMultipartUpload>${parts.map((p) => `<Part><PartNumber>${p.n}</PartNumber><ETag>${p.etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
}

describe('Content-Length', () => {
  it('a PUT with neither Content-Length nor chunked encoding: 411 MissingContentLength', async () => {
    const w = c.workers[0];
    expectError(await one(w, 'PUT', `/${B}/no-length`, {}), 411, 'MissingContentLength');
    await assertNothingStored(B, 'no-length');
    const id = await createUpload(B, 'no-length-mp');
    expectError(await one(w, 'PUT', `/${B}/no-length-mp?uploadId=${encodeURIComponent(id)}&partNumber=1`, {}), 411, 'MissingContentLength');
    const parts = await one(w, 'GET', `/${B}/no-length-mp?uploadId=${encodeURIComponent(id)}`, {});
    assert.equal(parts.status, 200);
    assert.doesNotMatch(parts.text, /<Part>/);
  });

  it('a chunked PUT without Content-Length is accepted', async () => {
    const w = c.workers[0];
    const r = await one(w, 'PUT', `/${B}/chunked-ok`, { 'Transfer-Encoding': 'chunked' }, '5\r\nhello\r\n0\r\n\r\n');
    assert.equal(r.status, 200, r.text);
    assert.equal(await (await fetch(`${w.endpoint}/${B}/chunked-ok`)).text(), 'hello');
  });

  for (const value of ['abc', '-1', '1e3', '99999999999999999999', '5, 6']) {
    it(`Content-Length: ${value} is refused with 400 and the connection closed`, async () => {
      const w = c.workers[0];
      const key = `absurd-${value.replace(/\W/g, '_')}`;
      const r = await rawExchange(w.s3Port, [rawRequest('PUT', `/${B}/${key}`, { Host: host(w), 'Content-Length': value }, 'hello')], { responses: 1, waitMs: 20_000 });
      assert.equal(r.timedOut, false);
      assert.ok(r.responses.length === 0 || r.responses[0].status === 400, `answered ${r.responses[0]?.status}`);
      await assertNothingStored(B, key);
    });
  }

  it('a declared length over the single-PUT limit: EntityTooLarge before any byte is read', async () => {
    const w = c.workers[0];
    expectError(await one(w, 'PUT', `/${B}/too-large`, { 'Content-Length': 6 * 1024 ** 3 }), 400, 'EntityTooLarge');
    expectError(await one(w, 'PUT', `/${B}/too-large`, { 'Content-Length': 10, 'Content-Encoding': 'aws-chunked', 'x-amz-decoded-content-length': 6 * 1024 ** 3 }), 400, 'EntityTooLarge');
    const id = await createUpload(B, 'too-large-part');
    expectError(await one(w, 'PUT', `/${B}/too-large-part?uploadId=${encodeURIComponent(id)}&partNumber=1`, { 'Content-Length': 6 * 1024 ** 3 }), 400, 'EntityTooLarge');
    await assertNothingStored(B, 'too-large');
  });

  it('a malformed x-amz-decoded-content-length: InvalidArgument', async () => {
    const w = c.workers[0];
    for (const v of ['abc', '-1']) {
      expectError(await one(w, 'PUT', `/${B}/bad-decoded`, { 'Content-Length': 5, 'Content-Encoding': 'aws-chunked', 'x-amz-decoded-content-length': v }, '0\r\n\r\n'), 400, 'InvalidArgument');
    }
    await assertNothingStored(B, 'bad-decoded');
  });
});

describe('multipart limits', () => {
  it('part numbers outside 1..10000: InvalidArgument on UploadPart and on Complete', async () => {
    const w = c.workers[0];
    const id = await createUpload(B, 'partnum');
    for (const n of ['0', '10001', '-1', 'abc', '1.5', '99999999999999999999']) {
      expectError(await one(w, 'PUT', `/${B}/partnum?uploadId=${encodeURIComponent(id)}&partNumber=${n}`, { 'Content-Length': 1 }, 'x'), 400, 'InvalidArgument');
    }
    const etag = await uploadPart(B, 'partnum', id, 1, Buffer.from('a'));
    for (const n of [0, 10001]) {
      expectError(await one(w, 'POST', `/${B}/partnum?uploadId=${encodeURIComponent(id)}`, { 'Content-Length': Buffer.byteLength(completeXml([{ n, etag }])) }, completeXml([{ n, etag }])), 400, 'InvalidArgument');
    }
    await assertNothingStored(B, 'partnum');
  });

  it('more than 10000 parts in a Complete: MalformedXML', async () => {
    const id = await createUpload(B, 'manyparts');
    const xml = completeXml(Array.from({ length: 10_001 }, (_, i) => ({ n: i + 1, etag: '"d41d8cd98f00b204e9800998ecf8427e"' })));
    expectError(await one(c.workers[0], 'POST', `/${B}/manyparts?uploadId=${encodeURIComponent(id)}`, { 'Content-Length': Buffer.byteLength(xml) }, xml), 400, 'MalformedXML');
    await assertNothingStored(B, 'manyparts');
  });

  it('a part under 5 MiB that is not the last: EntityTooSmall on Complete, nothing stored, the upload still open', async () => {
    const id = await createUpload(B, 'small-parts');
    const e1 = await uploadPart(B, 'small-parts', id, 1, randomBytes(MiB));
    const e2 = await uploadPart(B, 'small-parts', id, 2, Buffer.from('tail'));
    const xml = completeXml([{ n: 1, etag: e1 }, { n: 2, etag: e2 }]);
    expectError(await one(c.workers[0], 'POST', `/${B}/small-parts?uploadId=${encodeURIComponent(id)}`, { 'Content-Length': Buffer.byteLength(xml) }, xml), 400, 'EntityTooSmall');
    await assertNothingStored(B, 'small-parts');
    // A single small part is fine (the last part may be any size).
    const only = completeXml([{ n: 2, etag: e2 }]);
    const ok = await one(c.workers[0], 'POST', `/${B}/small-parts?uploadId=${encodeURIComponent(id)}`, { 'Content-Length': Buffer.byteLength(only) }, only);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(await (await fetch(`${c.endpoint}/${B}/small-parts`)).text(), 'tail');
  });

  it('upload ids that name paths: NoSuchUpload, and nothing created', async () => {
    const w = c.workers[0];
    const before = await walk(path.join(w.cacheDir, 'multipart'));
    for (const id of ['..%2F..%2Fescape', '..', '%2Fetc', `worker-0.${'a'.repeat(32)}%2F..%2F..`, `worker-0.${'a'.repeat(32)}%00`, `..%2Fworker-0.${'a'.repeat(32)}`]) {
      expectError(await one(w, 'PUT', `/${B}/k?uploadId=${id}&partNumber=1`, { 'Content-Length': 1 }, 'x'), 404, 'NoSuchUpload');
      expectError(await one(w, 'DELETE', `/${B}/k?uploadId=${id}`, {}), 404, 'NoSuchUpload');
      expectError(await one(w, 'GET', `/${B}/k?uploadId=${id}`, {}), 404, 'NoSuchUpload');
    }
    assert.deepEqual(await walk(path.join(w.cacheDir, 'multipart')), before);
  });
});

describe('XML bodies', () => {
  const deleteXml = (n: number) => `<Delete>${Array.from({ length: n }, (_, i) => `<Object><Key>k${i}</Key></Object>`).join('')}</Delete>`;

  it('DeleteObjects with more than 1000 keys: MalformedXML, nothing deleted', async () => {
    const w = c.workers[0];
    assert.equal((await fetch(`${w.endpoint}/${B}/k0`, { method: 'PUT', body: 'keep' })).status, 200);
    const xml = deleteXml(1001);
    expectError(await one(w, 'POST', `/${B}?delete`, { 'Content-Length': Buffer.byteLength(xml) }, xml), 400, 'MalformedXML');
    assert.equal(await (await fetch(`${w.endpoint}/${B}/k0`)).text(), 'keep');
  });

  it('a body over the XML cap: MaxMessageLengthExceeded, declared or chunked, answered (not reset)', async () => {
    const w = c.workers[0];
    const big = `<Delete>${'<Object><Key>k0</Key></Object>'.repeat(120_000)}</Delete>`;
    assert.ok(Buffer.byteLength(big) > 2 * MiB);
    expectError(await one(w, 'POST', `/${B}?delete`, { 'Content-Length': Buffer.byteLength(big) }), 400, 'MaxMessageLengthExceeded');
    const chunked = `${Buffer.byteLength(big).toString(16)}\r\n${big}\r\n0\r\n\r\n`;
    expectError(await one(w, 'POST', `/${B}?delete`, { 'Transfer-Encoding': 'chunked' }, chunked), 400, 'MaxMessageLengthExceeded');
    const tags = `<Tagging><TagSet>${'<Tag><Key>a</Key><Value>b</Value></Tag>'.repeat(3000)}</TagSet></Tagging>`;
    expectError(await one(w, 'PUT', `/${B}/k0?tagging`, { 'Content-Length': Buffer.byteLength(tags) }, tags), 400, 'MaxMessageLengthExceeded');
    assert.equal(await (await fetch(`${w.endpoint}/${B}/k0`)).text(), 'keep');
  });
});

describe('headers', () => {
  it('user metadata over 2 KiB: MetadataTooLarge, nothing stored', async () => {
    const w = c.workers[0];
    expectError(await one(w, 'PUT', `/${B}/meta-big`, { 'Content-Length': 1, 'x-amz-meta-a': 'x'.repeat(1500), 'x-amz-meta-b': 'y'.repeat(600) }, 'x'), 400, 'MetadataTooLarge');
    await assertNothingStored(B, 'meta-big');
    const r = await one(w, 'PUT', `/${B}/meta-ok`, { 'Content-Length': 1, 'x-amz-meta-a': 'x'.repeat(1000) }, 'x');
    assert.equal(r.status, 200, r.text);
  });

  it('a Content-MD5 that is not base64 of 16 bytes: InvalidDigest (PutObject, UploadPart, DeleteObjects)', async () => {
    const w = c.workers[0];
    const id = await createUpload(B, 'md5-part');
    const xml = '<Delete><Object><Key>k0</Key></Object></Delete>';
    for (const md5 of ['not base64!', 'AAAA', '====', createHash('md5').update('x').digest('hex')]) {
      expectError(await one(w, 'PUT', `/${B}/md5-bad`, { 'Content-Length': 1, 'Content-MD5': md5 }, 'x'), 400, 'InvalidDigest');
      expectError(await one(w, 'PUT', `/${B}/md5-part?uploadId=${encodeURIComponent(id)}&partNumber=1`, { 'Content-Length': 1, 'Content-MD5': md5 }, 'x'), 400, 'InvalidDigest');
      expectError(await one(w, 'POST', `/${B}?delete`, { 'Content-Length': xml.length, 'Content-MD5': md5 }, xml), 400, 'InvalidDigest');
    }
    await assertNothingStored(B, 'md5-bad');
    assert.equal(await (await fetch(`${w.endpoint}/${B}/k0`)).text(), 'keep');
  });

  it('bad ranges: ignored (whole object) unless unsatisfiable (416 InvalidRange)', async () => {
    const w = c.workers[0];
    assert.equal((await fetch(`${w.endpoint}/${B}/ranged`, { method: 'PUT', body: '0123456789' })).status, 200);
    for (const range of ['bytes=5-1', 'bytes=abc', 'items=0-1', 'bytes=0-0,2-3', 'bytes=', 'bytes=--1']) {
      const r = await one(w, 'GET', `/${B}/ranged`, { Range: range });
      assert.equal(r.status, 200, range);
      assert.equal(r.text, '0123456789', range);
    }
    for (const range of ['bytes=10-', 'bytes=99999999999999999999-', 'bytes=-0']) {
      expectError(await one(w, 'GET', `/${B}/ranged`, { Range: range }), 416, 'InvalidRange');
    }
    const partial = await one(w, 'GET', `/${B}/ranged`, { Range: 'bytes=8-99999999999' });
    assert.equal(partial.status, 206);
    assert.equal(partial.text, '89');
  });

  it('unparseable dates in conditional headers are ignored, as S3 does', async () => {
    const w = c.workers[0];
    for (const [name, value] of [['If-Modified-Since', 'garbage'], ['If-Unmodified-Since', 'Mon, 32 Foo 2020 99:99:99 GMT'], ['If-Modified-Since', '-1'], ['If-Unmodified-Since', '0']]) {
      const r = await one(w, 'GET', `/${B}/ranged`, { [name]: value });
      assert.equal(r.status, 200, `${name}: ${value}`);
    }
    const copy = await one(w, 'PUT', `/${B}/ranged-copy`, { 'Content-Length': 0, 'x-amz-copy-source': `${B}/ranged`, 'x-amz-copy-source-if-modified-since': 'garbage' });
    assert.equal(copy.status, 200, copy.text);
  });
});

describe('slow and vanishing clients', () => {
  it('headers that never finish: the connection is closed after the headers timeout', async () => {
    const w = c.workers[0];
    const r = await rawExchange(w.s3Port, [`GET /${B}/ranged HTTP/1.1\r\nHost: ${host(w)}\r\nx-slow: `], { responses: 1, waitMs: 30_000 });
    assert.equal(r.timedOut, false, 'the server kept a half-sent header block open');
    assert.ok(r.responses.length === 0 || r.responses[0].status === 408, `answered ${r.responses[0]?.status}`);
  });

  it('a body that stops: 400 RequestTimeout, the connection closed, nothing stored', async () => {
    const w = c.workers[0];
    const r = await rawExchange(w.s3Port, [rawRequest('PUT', `/${B}/stalled`, { Host: host(w), 'Content-Length': MiB }, randomBytes(1000))], { responses: 1, waitMs: 30_000 });
    assert.equal(r.timedOut, false);
    expectError(r.responses[0], 400, 'RequestTimeout');
    await assertNothingStored(B, 'stalled');
  });

  const disconnects: [string, () => { w: TestWorker; bucket: string }][] = [
    ['WRITE_THROUGH, at the owner', () => ({ w: c.owner(B, 'gone-wt'), bucket: B })],
    ['WRITE_THROUGH, through a non-owner', () => ({ w: c.nonOwner(B, 'gone-wt'), bucket: B })],
    ['WRITE_BACK, at the owner', () => ({ w: c.owner(WB, 'gone-wt'), bucket: WB })],
    ['WRITE_BACK, through a non-owner', () => ({ w: c.nonOwner(WB, 'gone-wt'), bucket: WB })],
  ];
  for (const [name, pick] of disconnects) {
    it(`a client that disconnects mid-upload (${name}) leaves no object, temp file or pinned space`, async () => {
      const { w, bucket } = pick();
      const r = await rawExchange(w.s3Port, [rawRequest('PUT', `/${bucket}/gone-wt`, { Host: host(w), 'Content-Length': 4 * MiB }, randomBytes(MiB))], { responses: 1, destroyAfterWrite: true });
      assert.equal(r.responses.length, 0);
      await assertNothingStored(bucket, 'gone-wt');
    });
  }

  it('a client that disconnects mid-part leaves no part and no temp file', async () => {
    const id = await createUpload(WB, 'gone-part');
    const w = c.workers[0];
    await rawExchange(w.s3Port, [rawRequest('PUT', `/${WB}/gone-part?uploadId=${encodeURIComponent(id)}&partNumber=1`, { Host: host(w), 'Content-Length': 4 * MiB }, randomBytes(MiB))], { responses: 1, destroyAfterWrite: true });
    let temps: string[] = [];
    await waitFor('part temp files to go', async () => (temps = await tempFiles()).length === 0, 20_000, 200).catch(() => undefined);
    assert.deepEqual(temps, []);
    const parts = await one(w, 'GET', `/${WB}/gone-part?uploadId=${encodeURIComponent(id)}`, {});
    assert.equal(parts.status, 200);
    assert.doesNotMatch(parts.text, /<Part>/);
  });
});

describe('no name leaves its root (raw paths, never normalised by a client)', () => {
  it('traversal in keys, buckets, copy sources and upload ids is refused and writes nothing outside the roots', async () => {
    const w = c.workers[0];
    const outer = path.dirname(c.ufsRoot);
    const before = (await fs.readdir(outer)).sort();
    const probes: [string, string, Record<string, string | number>][] = [
      ['PUT', `/${B}/../../escape-a`, { 'Content-Length': 1 }],
      ['PUT', `/${B}/..%2F..%2Fescape-b`, { 'Content-Length': 1 }],
      ['PUT', `/${B}/%2e%2e/%2e%2e/escape-c`, { 'Content-Length': 1 }],
      ['PUT', `/${B}/a/%2E%2E/%2E%2E/%2E%2E/escape-d`, { 'Content-Length': 1 }],
      ['PUT', `/..%2Fescape-e/k`, { 'Content-Length': 1 }],
      ['PUT', `/%2e%2e/escape-f`, { 'Content-Length': 1 }],
      ['PUT', `/${B}/%2Fetc%2Fescape-g`, { 'Content-Length': 1 }],
      ['PUT', `/${B}/a%00b`, { 'Content-Length': 1 }],
      ['PUT', `/${B}/copy-escape`, { 'Content-Length': 0, 'x-amz-copy-source': '../../etc/passwd' }],
      ['PUT', `/${B}/copy-escape`, { 'Content-Length': 0, 'x-amz-copy-source': `${B}/..%2F..%2F..%2Fetc%2Fpasswd` }],
      ['GET', `/${B}/..%2F..%2F..%2F..%2Fetc%2Fpasswd`, {}],
      ['GET', `/..%2F..%2F..%2Fetc/passwd`, {}],
      ['GET', `/${B}?prefix=..%2F..%2F&delimiter=%2F`, {}],
    ];
    for (const [method, target, headers] of probes) {
      const r = await rawExchange(w.s3Port, [rawRequest(method, target, { Host: host(w), Connection: 'close', ...headers }, headers['Content-Length'] === 1 ? 'x' : undefined)], { responses: 1, waitMs: 20_000 });
      assert.equal(r.timedOut, false, `${method} ${target}: no answer`);
      const status = r.responses[0]?.status ?? 0;
      if (target.includes('prefix=')) {
        assert.equal(status, 200, `${method} ${target}`);
        assert.doesNotMatch(r.responses[0].text, /<Key>|passwd|escape/, target);
      } else {
        assert.ok(status >= 400 && status < 500, `${method} ${target} answered ${status}: ${r.responses[0]?.text.slice(0, 200)}`);
        assert.doesNotMatch(r.responses[0]?.text ?? '', /root:/, 'a file outside the root was served');
      }
    }
    assert.deepEqual((await fs.readdir(outer)).sort(), before, 'entries appeared beside the UFS root');
    const escaped = (await walk(outer)).filter((p) => path.basename(p).startsWith('escape-'));
    assert.deepEqual(escaped, []);
  });
});
