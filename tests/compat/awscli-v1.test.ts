/**
 * The compat scenario with the AWS CLI v1 (`aws` on PATH when it is v1 — pyenv's — else
 * `python3 -m awscli`), default settings, against one 3-worker cluster, through the keys' owner
 * and through a non-owner; then, on the same cluster, the broader AWS CLI v1 flows: the
 * new-user flow (mb, cp up, ls, cp down, rm, rb), cache hits across workers, s3api metadata,
 * ranges and pagination. A missing CLI is a failure, never a skip.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { TestCluster } from '../helpers/cluster.js';
import { awsCliScenario, awsVersion, runAws, type AwsCli } from './awscli-scenario.js';
import { explain, type ExecResult } from './scenario.js';

const BIG = 20 * 1024 * 1024;

async function resolveV1(): Promise<AwsCli> {
  const onPath = await awsVersion('aws');
  if (onPath?.startsWith('aws-cli/1.')) return { cmd: 'aws', pre: [], version: onPath };
  const module = await awsVersion('python3', ['-m', 'awscli']);
  if (module?.startsWith('aws-cli/1.')) return { cmd: 'python3', pre: ['-m', 'awscli'], version: module };
  throw new Error(`the AWS CLI v1 is required: \`aws\` on PATH is ${onPath ?? 'missing'} and \`python3 -m awscli\` is ${module ?? 'missing'} (pip install awscli)`);
}

awsCliScenario('awscli-v1', 1, resolveV1, (h, getCli) => {
  describe('AWS CLI v1 flows', () => {
    const BUCKET = `demo-${randomBytes(4).toString('hex')}`;
    let c: TestCluster;
    let tmp: string;
    let big: Buffer;
    let bigFile: string;

    before(async () => {
      c = h.cluster;
      tmp = await h.dir('v1-flows');
      big = randomBytes(BIG);
      bigFile = path.join(tmp, 'big.bin');
      await fs.writeFile(bigFile, big);
    });

    /** `aws --endpoint-url <endpoint> ...args`, bounded in time. */
    function aws(args: string[], endpoint = c.endpoint): Promise<ExecResult> {
      const { cli, env } = getCli();
      return runAws(cli, env, endpoint, args, tmp, 180_000);
    }

    /** Runs `aws` and requires exit 0, showing the command, stderr and stdout otherwise. */
    async function ok(args: string[], endpoint = c.endpoint): Promise<ExecResult> {
      const r = await aws(args, endpoint);
      assert.equal(r.code, 0, `endpoint ${endpoint}:\n${explain(r)}`);
      return r;
    }

    async function json<T>(args: string[]): Promise<T> {
      const r = await ok([...args, '--output', 'json']);
      try {
        return JSON.parse(r.stdout) as T;
      } catch {
        throw new Error(`aws ${args.join(' ')} printed no JSON:\n${r.stdout}`);
      }
    }

    async function ufsReads(): Promise<{ reads: number; readBytes: number }> {
      const all = await Promise.all(c.workers.map((w) => c.stats(w)));
      return { reads: all.reduce((n, s) => n + s.ufs.reads, 0), readBytes: all.reduce((n, s) => n + s.ufs.readBytes, 0) };
    }

    async function download(name: string, endpoint = c.endpoint): Promise<Buffer> {
      const out = path.join(tmp, name);
      await ok(['s3', 'cp', `s3://${BUCKET}/big.bin`, out], endpoint);
      const b = await fs.readFile(out);
      await fs.rm(out, { force: true });
      return b;
    }

    function sameBytes(got: Buffer, what: string): void {
      assert.equal(got.length, big.length, `${what}: length`);
      assert.ok(got.equals(big), `${what}: bytes differ from the uploaded file`);
    }

    it('s3 mb creates the bucket (a directory of the root UFS)', async () => {
      const r = await ok(['s3', 'mb', `s3://${BUCKET}`]);
      assert.match(r.stdout, new RegExp(`make_bucket: ${BUCKET}`));
      assert.ok(existsSync(path.join(c.ufsRoot, BUCKET)), `${c.ufsRoot}/${BUCKET} was not created`);
    });

    it('s3 cp uploads a 20 MB file (multipart) and a nested object', async () => {
      await ok(['s3', 'cp', bigFile, `s3://${BUCKET}/big.bin`]);
      const small = path.join(tmp, 'nested.txt');
      await fs.writeFile(small, 'nested object\n');
      await ok(['s3', 'cp', small, `s3://${BUCKET}/dir/nested.txt`]);
      const onDisk = await fs.readFile(path.join(c.ufsRoot, BUCKET, 'big.bin')).catch((err: Error) => {
        throw new Error(`the upload is not in the UFS at ${c.ufsRoot}/${BUCKET}/big.bin: ${err.message}`);
      });
      sameBytes(onDisk, 'the file in the UFS');
      assert.equal(await fs.readFile(path.join(c.ufsRoot, BUCKET, 'dir', 'nested.txt'), 'utf8'), 'nested object\n');
    });

    it('s3 ls lists the bucket, with and without --recursive', async () => {
      const top = await ok(['s3', 'ls', `s3://${BUCKET}`]);
      assert.match(top.stdout, /^\s*PRE dir\/$/m, `s3 ls shows no "PRE dir/":\n${top.stdout}`);
      assert.match(top.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+${BIG} big\\.bin$`, 'm'), `s3 ls shows no 20 MB big.bin:\n${top.stdout}`);
      assert.doesNotMatch(top.stdout, /nested\.txt/, 's3 ls without --recursive shows a nested key');

      const rec = await ok(['s3', 'ls', '--recursive', `s3://${BUCKET}`]);
      assert.match(rec.stdout, new RegExp(`\\s${BIG} big\\.bin$`, 'm'), `s3 ls --recursive:\n${rec.stdout}`);
      assert.match(rec.stdout, /\s14 dir\/nested\.txt$/m, `s3 ls --recursive shows no dir/nested.txt:\n${rec.stdout}`);

      const buckets = await ok(['s3', 'ls']);
      assert.match(buckets.stdout, new RegExp(`\\s${BUCKET}$`, 'm'), `s3 ls (all buckets) does not show ${BUCKET}:\n${buckets.stdout}`);
    });

    it('a file placed straight in the UFS is served, and its first read counts as a UFS read', async () => {
      // Also proves the counters the cache assertions below rely on are live.
      const direct = randomBytes(300_000);
      await fs.writeFile(path.join(c.ufsRoot, BUCKET, 'direct.bin'), direct);
      const before = await ufsReads();
      const out = path.join(tmp, 'direct.out');
      await ok(['s3', 'cp', `s3://${BUCKET}/direct.bin`, out]);
      assert.ok((await fs.readFile(out)).equals(direct), 'direct.bin: bytes differ');
      const after = await ufsReads();
      assert.ok(after.reads > before.reads && after.readBytes >= before.readBytes + direct.length,
        `reading an uncached file did not count as UFS reads: ${JSON.stringify({ before, after })}`);
    });

    it('s3 cp downloads the same bytes; the second and third downloads read nothing from the UFS', async () => {
      sameBytes(await download('down-1.bin'), 'first download');
      const afterFirst = await ufsReads();
      sameBytes(await download('down-2.bin'), 'second download');
      const afterSecond = await ufsReads();
      assert.deepEqual(afterSecond, afterFirst, 'the second download read the UFS (sum of ufs.reads/readBytes over all workers changed)');
      sameBytes(await download('down-3.bin'), 'third download');
      const afterThird = await ufsReads();
      assert.deepEqual(afterThird, afterSecond, 'the third download read the UFS (sum of ufs.reads/readBytes over all workers changed)');
    });

    it('s3 cp downloads through every worker endpoint (each worker serves every object), from the cache', async () => {
      const before = await ufsReads();
      for (const w of c.workers) sameBytes(await download(`down-${w.id}.bin`, w.endpoint), `download through ${w.id} (${w.endpoint})`);
      assert.deepEqual(await ufsReads(), before, 'a download through another worker read the UFS instead of the owner\'s cache');
    });

    it('s3api put-object --metadata, then head-object', async () => {
      const body = path.join(tmp, 'meta.txt');
      const text = 'hello metadata, 0123456789 abcdefghij\n';
      await fs.writeFile(body, text);
      const put = await json<{ ETag: string }>(['s3api', 'put-object', '--bucket', BUCKET, '--key', 'meta/hello.txt', '--body', body,
        '--content-type', 'text/plain', '--metadata', 'color=blue,owner=alice']);
      const md5 = createHash('md5').update(text).digest('hex');
      assert.equal(put.ETag, `"${md5}"`, 'put-object ETag');
      const head = await json<{ ContentLength: number; ContentType: string; ETag: string; Metadata: Record<string, string>; LastModified: string }>(
        ['s3api', 'head-object', '--bucket', BUCKET, '--key', 'meta/hello.txt']);
      assert.equal(head.ContentLength, Buffer.byteLength(text));
      assert.equal(head.ContentType, 'text/plain');
      assert.equal(head.ETag, `"${md5}"`);
      assert.deepEqual(head.Metadata, { color: 'blue', owner: 'alice' });
      assert.ok(head.LastModified, 'head-object has LastModified');
    });

    it('s3api get-object --range', async () => {
      const out = path.join(tmp, 'range.out');
      const r = await json<{ ContentRange: string; ContentLength: number }>(['s3api', 'get-object', '--bucket', BUCKET, '--key', 'meta/hello.txt', '--range', 'bytes=6-13', out]);
      assert.equal(r.ContentRange, 'bytes 6-13/38');
      assert.equal(r.ContentLength, 8);
      assert.equal(await fs.readFile(out, 'utf8'), 'metadata');

      const bigRange = path.join(tmp, 'big-range.out');
      const r2 = await json<{ ContentRange: string }>(['s3api', 'get-object', '--bucket', BUCKET, '--key', 'big.bin', '--range', `bytes=${BIG - 3_000_000}-`, bigRange]);
      assert.equal(r2.ContentRange, `bytes ${BIG - 3_000_000}-${BIG - 1}/${BIG}`);
      assert.ok((await fs.readFile(bigRange)).equals(big.subarray(BIG - 3_000_000)), 'get-object --range of big.bin: bytes differ');
    });

    it('s3api list-objects-v2 --max-items paginates over every key once', async () => {
      const keys = Array.from({ length: 7 }, (_, i) => `paged/k${i} +%é`);
      const body = path.join(tmp, 'one.txt');
      await fs.writeFile(body, '1');
      for (const k of keys) await ok(['s3api', 'put-object', '--bucket', BUCKET, '--key', k, '--body', body]);
      // The folder object "paged/" is listed too (directories are 0-byte folder objects).
      const want = ['paged/', ...keys].sort();
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await json<{ Contents?: { Key: string }[]; NextToken?: string }>(['s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', 'paged/',
          '--max-items', '2', '--page-size', '2', ...(token ? ['--starting-token', token] : [])]);
        const got = (page.Contents ?? []).map((o) => o.Key);
        assert.ok(got.length <= 2, `--max-items 2 returned ${got.length} keys`);
        seen.push(...got);
        token = page.NextToken;
        assert.ok(++pages <= 20, 'pagination does not end');
      } while (token);
      assert.equal(pages, Math.ceil(want.length / 2), 'number of --max-items pages');
      assert.deepEqual([...seen].sort(), want, 'list-objects-v2 pagination did not reach every key exactly once');
    });

    it('s3 rb refuses a non-empty bucket', async () => {
      const r = await aws(['s3', 'rb', `s3://${BUCKET}`]);
      assert.notEqual(r.code, 0, 's3 rb of a non-empty bucket succeeded');
      assert.match(r.stderr, /BucketNotEmpty/, `s3 rb stderr:\n${r.stderr}`);
    });

    it('s3 rm removes objects', async () => {
      const r = await ok(['s3', 'rm', `s3://${BUCKET}/big.bin`]);
      assert.match(r.stdout, new RegExp(`delete: s3://${BUCKET}/big\\.bin`));
      assert.ok(!existsSync(path.join(c.ufsRoot, BUCKET, 'big.bin')), 'big.bin is still in the UFS after s3 rm');
      const head = await aws(['s3api', 'head-object', '--bucket', BUCKET, '--key', 'big.bin']);
      assert.notEqual(head.code, 0, 'head-object succeeds after s3 rm');
      assert.match(head.stderr, /404|Not Found/, head.stderr);
      await ok(['s3', 'rm', '--recursive', `s3://${BUCKET}`]);
      const left = await aws(['s3', 'ls', '--recursive', `s3://${BUCKET}`]);
      // `aws s3 ls` exits 1 when it lists nothing; either way nothing may be listed.
      assert.ok(left.code === 0 || left.code === 1, `s3 ls --recursive exited ${left.code}:\n${left.stderr}`);
      assert.equal(left.stdout.trim(), '', `objects left after s3 rm --recursive:\n${left.stdout}`);
    });

    it('s3 rb removes the empty bucket and its UFS directory', async () => {
      await ok(['s3', 'rb', `s3://${BUCKET}`]);
      assert.ok(!existsSync(path.join(c.ufsRoot, BUCKET)), `${c.ufsRoot}/${BUCKET} still exists after s3 rb`);
      const r = await aws(['s3', 'ls', `s3://${BUCKET}`]);
      assert.notEqual(r.code, 0, 's3 ls of a removed bucket succeeded');
      assert.match(r.stderr, /NoSuchBucket/, r.stderr);
    });
  });
});
