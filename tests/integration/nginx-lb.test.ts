/**
 * Real S3 clients through nginx with deploy/nginx.conf in front of a 3-worker cluster.
 *
 * Redirects off (the default): the same short flow for every client (make a bucket; put a small
 * object; put a 20 MiB object as a multipart upload; get both and check the MD5s; a ranged get;
 * list; server-side copy; delete many; remove the bucket), with the JS SDK, AWS CLI v1 and v2,
 * s3cmd, rclone and minio-js; and boto3's whole compat scenario (tests/compat/python/
 * scenario_boto3.py, including a 100 MiB upload_file). Plus what nginx itself must not get
 * wrong: Host, header names with underscores and user metadata pass unchanged; a 128 MiB upload
 * with Expect: 100-continue and a 100 MiB download stream through it (the worker is writing the
 * upload while the client still holds most of it back, and nginx spools nothing to disk).
 *
 * Redirects on (alluxio.worker.s3.redirect.enabled=true): a GET or HEAD that nginx hands to a
 * worker that does not own the key is answered 307 with the owner's own address (nginx passes
 * Location unchanged), so only a client that follows the 307 to that address reads the object.
 * To make that deterministic, nginx here fronts only the two workers that do NOT own the keys,
 * and each client's GET is checked against what it is known to do (shared/S3-CLIENTS.md §4):
 * curl -L follows; rclone follows but drops Authorization (accepted here: SIMPLE authentication);
 * s3cmd fails (its HEAD before the GET follows Location without the port); the JS SDK, boto3,
 * the AWS CLIs and minio-js do not follow.
 *
 * SIGV4 (alluxio.worker.s3.authentication=SIGV4): the same flow for every client with keys from
 * a credentials file, through nginx: the worker checks the signature over the Host and headers
 * the client sent; a wrong secret, a tampered and an expired presigned URL are refused.
 *
 * A missing client fails its test (never skips).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { createReadStream, promises as fs, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import * as Minio from 'minio';
import { REPO_ROOT, startCluster, tempDir, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { startNginx, type NginxLb } from '../helpers/nginx.js';
import { presign } from '../helpers/sigv4.js';
import { AWS_V2, awsEnv, awsVersion, runAws, type AwsCli } from '../compat/awscli-scenario.js';
import { BOTO3_ENV, rcloneEnv, writeS3cmdConfig } from '../compat/client-config.js';
import {
  BIG_SIZE, MiB, SMALL, exec, explain, md5File, quotedMd5, readSlice, withoutFolderObjects, writeRandomFile, writeStampedFile, type ExecResult,
} from '../compat/scenario.js';

const MULTI_SIZE = 20 * MiB;

/** SIMPLE mode accepts any key pair; the SIGV4 run below uses keys from a credentials file. */
interface Keys { id: string; secret: string }
const TEST_KEYS: Keys = { id: 'test', secret: 'test' };

function sdk(endpoint: string, keys: Keys = TEST_KEYS): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: keys.id, secretAccessKey: keys.secret },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 10_000, requestTimeout: 300_000 }),
  });
}

async function ok(r: Promise<ExecResult>): Promise<ExecResult> {
  const res = await r;
  assert.ok(res.code === 0 && !res.timedOut, explain(res));
  return res;
}

/** What one client does in the short flow; every method throws when the client fails. */
interface Flow {
  version(): Promise<string>;
  mb(bucket: string): Promise<void>;
  put(bucket: string, key: string, file: string): Promise<void>;
  /** An upload the client makes as a multipart upload (the file is 20 MiB). */
  putMultipart(bucket: string, key: string, file: string): Promise<void>;
  get(bucket: string, key: string, out: string): Promise<void>;
  /** Bytes [start, start+length) of the object. */
  range(bucket: string, key: string, start: number, length: number, src: string): Promise<Buffer>;
  list(bucket: string): Promise<string[]>;
  copy(bucket: string, from: string, to: string): Promise<void>;
  deleteMany(bucket: string, keys: string[]): Promise<void>;
  rb(bucket: string): Promise<void>;
}

interface Ctx {
  endpoint: string;
  host: string;
  port: number;
  work: string;
  keys: Keys;
}

// ---------------------------------------------------------------- the clients

function jsSdkFlow(c: Ctx): Flow {
  const s3 = sdk(c.endpoint, c.keys);
  return {
    version: async () => `@aws-sdk/client-s3 ${JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'node_modules', '@aws-sdk', 'client-s3', 'package.json'), 'utf8')).version}`,
    mb: async (b) => { await s3.send(new CreateBucketCommand({ Bucket: b })); },
    put: async (b, k, f) => { await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: await fs.readFile(f) })); },
    putMultipart: async (b, k, f) => { await new Upload({ client: s3, params: { Bucket: b, Key: k, Body: createReadStream(f) }, partSize: 5 * MiB }).done(); },
    get: async (b, k, out) => {
      const r = await s3.send(new GetObjectCommand({ Bucket: b, Key: k }));
      await pipeline(r.Body as Readable, (await fs.open(out, 'w')).createWriteStream());
    },
    range: async (b, k, s, n) => {
      const r = await s3.send(new GetObjectCommand({ Bucket: b, Key: k, Range: `bytes=${s}-${s + n - 1}` }));
      return Buffer.from(await r.Body!.transformToByteArray());
    },
    list: async (b) => ((await s3.send(new ListObjectsV2Command({ Bucket: b }))).Contents ?? []).map((o) => o.Key!),
    copy: async (b, from, to) => { await s3.send(new CopyObjectCommand({ Bucket: b, Key: to, CopySource: `${b}/${from}` })); },
    deleteMany: async (b, keys) => {
      const r = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
      assert.deepEqual(r.Errors ?? [], []);
    },
    rb: async (b) => { await s3.send(new DeleteBucketCommand({ Bucket: b })); },
  };
}

async function resolveAwsV1(): Promise<AwsCli> {
  const onPath = await awsVersion('aws');
  if (onPath?.startsWith('aws-cli/1.')) return { cmd: 'aws', pre: [], version: onPath };
  const module = await awsVersion('python3', ['-m', 'awscli']);
  if (module?.startsWith('aws-cli/1.')) return { cmd: 'python3', pre: ['-m', 'awscli'], version: module };
  throw new Error(`the AWS CLI v1 is required: \`aws\` on PATH is ${onPath ?? 'missing'} and \`python3 -m awscli\` is ${module ?? 'missing'}`);
}

async function resolveAwsV2(): Promise<AwsCli> {
  const v = await awsVersion(AWS_V2);
  if (!v?.startsWith('aws-cli/2.')) throw new Error(`the AWS CLI v2 is required at ${AWS_V2} (Debian package awscli): found ${v ?? 'nothing'}`);
  return { cmd: AWS_V2, pre: [], version: v };
}

function awsFlow(c: Ctx, resolve: () => Promise<AwsCli>): Flow {
  let cli: AwsCli | undefined;
  let env: NodeJS.ProcessEnv = {};
  const aws = (args: string[]) => {
    assert.ok(cli, 'the AWS CLI was not found (see the version step)');
    return ok(runAws(cli, env, c.endpoint, args, c.work));
  };
  return {
    version: async () => {
      cli = await resolve();
      env = { ...(await awsEnv(c.work)), AWS_ACCESS_KEY_ID: c.keys.id, AWS_SECRET_ACCESS_KEY: c.keys.secret };
      return cli.version;
    },
    mb: async (b) => { await aws(['s3', 'mb', `s3://${b}`]); },
    put: async (b, k, f) => { await aws(['s3', 'cp', f, `s3://${b}/${k}`]); },
    putMultipart: async (b, k, f) => { await aws(['s3', 'cp', f, `s3://${b}/${k}`]); },
    get: async (b, k, out) => { await aws(['s3', 'cp', `s3://${b}/${k}`, out]); },
    range: async (b, k, s, n) => {
      const out = path.join(c.work, 'range.out');
      await aws(['s3api', 'get-object', '--bucket', b, '--key', k, '--range', `bytes=${s}-${s + n - 1}`, out]);
      return fs.readFile(out);
    },
    list: async (b) => (JSON.parse((await aws(['s3api', 'list-objects-v2', '--bucket', b, '--output', 'json'])).stdout || '{}') as { Contents?: { Key: string }[] }).Contents?.map((o) => o.Key) ?? [],
    copy: async (b, from, to) => { await aws(['s3', 'cp', `s3://${b}/${from}`, `s3://${b}/${to}`]); },
    deleteMany: async (b, keys) => {
      const r = JSON.parse((await aws(['s3api', 'delete-objects', '--bucket', b, '--delete', JSON.stringify({ Objects: keys.map((Key) => ({ Key })) }), '--output', 'json'])).stdout) as { Errors?: unknown[] };
      assert.deepEqual(r.Errors ?? [], []);
    },
    rb: async (b) => { await aws(['s3', 'rb', `s3://${b}`]); },
  };
}

function s3cmdFlow(c: Ctx): Flow {
  let cfg = '';
  const s3cmd = async (args: string[]) => {
    cfg ||= await writeS3cmdConfig(c.work, c.host, c.port, c.keys);
    return ok(exec('s3cmd', ['-c', cfg, ...args], { env: { HOME: c.work }, timeoutMs: 240_000, cwd: c.work }));
  };
  return {
    version: async () => (await ok(exec('s3cmd', ['--version'], { timeoutMs: 30_000 }))).stdout.trim(),
    mb: async (b) => { await s3cmd(['mb', `s3://${b}`]); },
    put: async (b, k, f) => { await s3cmd(['put', f, `s3://${b}/${k}`]); },
    // s3cmd's parts are 15 MiB: the 20 MiB file goes up in two.
    putMultipart: async (b, k, f) => { await s3cmd(['put', f, `s3://${b}/${k}`]); },
    get: async (b, k, out) => { await s3cmd(['get', '--force', `s3://${b}/${k}`, out]); },
    // No range option: `get --continue` of a partial file asks for `Range: bytes=<size>-`.
    range: async (b, k, s, n, src) => {
      const out = path.join(c.work, 'partial.out');
      await fs.writeFile(out, await readSlice(src, 0, s));
      await s3cmd(['get', '--continue', `s3://${b}/${k}`, out]);
      return readSlice(out, s, n);
    },
    list: async (b) => (await s3cmd(['ls', '-r', `s3://${b}`])).stdout.trim().split('\n').filter(Boolean).map((l) => l.slice(l.indexOf(`s3://${b}/`) + `s3://${b}/`.length)),
    copy: async (b, from, to) => { await s3cmd(['cp', `s3://${b}/${from}`, `s3://${b}/${to}`]); },
    deleteMany: async (b, keys) => { await s3cmd(['del', ...keys.map((k) => `s3://${b}/${k}`)]); },
    rb: async (b) => { await s3cmd(['rb', `s3://${b}`]); },
  };
}

function rcloneFlow(c: Ctx): Flow {
  let env: NodeJS.ProcessEnv | undefined;
  const rclone = async (args: string[]) => {
    // 5 MiB cutoff and chunks, so the 20 MiB file is a multipart upload (the default cutoff is 200 MiB).
    env ??= await rcloneEnv(c.work, 'alx', c.endpoint, { UPLOAD_CUTOFF: '5M', CHUNK_SIZE: '5M', ACCESS_KEY_ID: c.keys.id, SECRET_ACCESS_KEY: c.keys.secret });
    return ok(exec('rclone', args, { env, timeoutMs: 240_000, cwd: c.work }));
  };
  return {
    version: async () => (await ok(exec('rclone', ['version'], { timeoutMs: 30_000 }))).stdout.split('\n')[0].trim(),
    mb: async (b) => { await rclone(['mkdir', `alx:${b}`]); },
    put: async (b, k, f) => { await rclone(['copyto', f, `alx:${b}/${k}`]); },
    putMultipart: async (b, k, f) => { await rclone(['copyto', f, `alx:${b}/${k}`]); },
    get: async (b, k, out) => { await rclone(['copyto', `alx:${b}/${k}`, out]); },
    range: async (b, k, s, n) => (await rclone(['cat', '--offset', String(s), '--count', String(n), `alx:${b}/${k}`])).stdoutBytes,
    list: async (b) => (await rclone(['lsf', '-R', `alx:${b}`])).stdout.trim().split('\n').filter(Boolean),
    copy: async (b, from, to) => { await rclone(['copyto', `alx:${b}/${from}`, `alx:${b}/${to}`]); },
    deleteMany: async (b, keys) => { for (const k of keys) await rclone(['deletefile', `alx:${b}/${k}`]); },
    rb: async (b) => { await rclone(['rmdir', `alx:${b}`]); },
  };
}

function minioFlow(c: Ctx): Flow {
  // 5 MiB parts, so the 20 MiB file is a multipart upload (minio-js picks 64 MiB by default).
  const mc = new Minio.Client({ endPoint: c.host, port: c.port, useSSL: false, accessKey: c.keys.id, secretKey: c.keys.secret, partSize: 5 * MiB });
  const collect = async (s: NodeJS.ReadableStream) => {
    const chunks: Buffer[] = [];
    for await (const d of s) chunks.push(d as Buffer);
    return Buffer.concat(chunks);
  };
  return {
    version: async () => `minio ${JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'node_modules', 'minio', 'package.json'), 'utf8')).version}`,
    mb: async (b) => { await mc.makeBucket(b); },
    put: async (b, k, f) => { await mc.putObject(b, k, await fs.readFile(f)); },
    putMultipart: async (b, k, f) => { await mc.fPutObject(b, k, f); },
    get: async (b, k, out) => { await mc.fGetObject(b, k, out); },
    range: async (b, k, s, n) => collect(await mc.getPartialObject(b, k, s, n)),
    list: async (b) => {
      const keys: string[] = [];
      for await (const o of mc.listObjectsV2(b, '', true)) if ((o as { name?: string }).name) keys.push((o as { name: string }).name);
      return keys;
    },
    copy: async (b, from, to) => {
      await mc.copyObject(new Minio.CopySourceOptions({ Bucket: b, Object: from }), new Minio.CopyDestinationOptions({ Bucket: b, Object: to }));
    },
    deleteMany: async (b, keys) => { await mc.removeObjects(b, keys); },
    rb: async (b) => { await mc.removeBucket(b); },
  };
}

const FLOWS: [string, (c: Ctx) => Flow][] = [
  ['js-sdk', jsSdkFlow],
  ['awscli-v1', (c) => awsFlow(c, resolveAwsV1)],
  ['awscli-v2', (c) => awsFlow(c, resolveAwsV2)],
  ['s3cmd', s3cmdFlow],
  ['rclone', rcloneFlow],
  ['minio-js', minioFlow],
];

// ---------------------------------------------------------------- shared state

interface Env {
  c: TestCluster;
  lb: NginxLb;
  tmp: string;
  smallFile: string;
  multiFile: string;
  multiMd5: string;
  check: S3Client;
}

function useEnv(conf: Record<string, string>, upstreams: (c: TestCluster) => TestWorker[] = (c) => c.workers, keys: Keys = TEST_KEYS): Env {
  const env = {} as Env;
  before(async () => {
    env.tmp = tempDir('nginx-lb');
    // nginx's unprivileged worker processes reach its prefix inside this dir.
    await fs.chmod(env.tmp, 0o755);
    env.c = await startCluster({ workers: 3, dataDir: path.join(env.tmp, 'cluster'), conf: { 'alluxio.worker.s3.shutdown.idle.grace': '5sec', ...conf } });
    env.lb = await startNginx(upstreams(env.c).map((w) => `127.0.0.1:${w.s3Port}`), path.join(env.tmp, 'nginx'));
    env.smallFile = path.join(env.tmp, 'small.txt');
    await fs.writeFile(env.smallFile, SMALL.body);
    env.multiFile = path.join(env.tmp, 'multi.bin');
    env.multiMd5 = await writeRandomFile(env.multiFile, MULTI_SIZE);
    env.check = sdk(env.lb.endpoint, keys);
  }, { timeout: 180_000 });
  after(async () => {
    env.check?.destroy();
    await env.lb?.close();
    await env.c?.close();
    if (env.tmp) await fs.rm(env.tmp, { recursive: true, force: true });
  }, { timeout: 120_000 });
  return env;
}

/** The short flow of every client in FLOWS, through nginx, with `keys`. */
function flowTests(env: Env, creds: Keys): void {
  for (const [name, make] of FLOWS) {
    describe(name, () => {
      let flow: Flow;
      let bucket: string;
      const keys = { small: 'hello.txt', multi: 'multi/part.bin', copy: 'copies/hello-copy.txt' };
      before(async () => {
        const work = path.join(env.tmp, `work-${name}`);
        await fs.mkdir(work, { recursive: true });
        flow = make({ endpoint: env.lb.endpoint, host: '127.0.0.1', port: env.lb.port, work, keys: creds });
        bucket = `lb-${name}-${Date.now().toString(36)}`;
      });
      const step = (title: string, fn: () => Promise<void>) => it(title, { timeout: 300_000 }, fn);
      step('client is installed', async () => { console.log(`${name} through nginx: ${await flow.version()}`); });
      step('make bucket', () => flow.mb(bucket));
      step('put small object', async () => {
        await flow.put(bucket, keys.small, env.smallFile);
        assert.equal((await env.check.send(new HeadObjectCommand({ Bucket: bucket, Key: keys.small }))).ETag, quotedMd5(SMALL.body));
      });
      step('put 20 MiB object (multipart)', async () => {
        await flow.putMultipart(bucket, keys.multi, env.multiFile);
        const head = await env.check.send(new HeadObjectCommand({ Bucket: bucket, Key: keys.multi }));
        assert.equal(head.ContentLength, MULTI_SIZE);
        assert.match(head.ETag ?? '', /^"[0-9a-f]{32}-\d+"$/, 'a multipart ETag');
      });
      step('get both (md5)', async () => {
        const out = path.join(env.tmp, `${name}-get.out`);
        await flow.get(bucket, keys.small, out);
        assert.ok((await fs.readFile(out)).equals(SMALL.body), 'small object bytes');
        await flow.get(bucket, keys.multi, out);
        assert.equal(await md5File(out), env.multiMd5, 'multipart object md5');
        await fs.rm(out, { force: true });
      });
      step('ranged get', async () => {
        const start = 7 * MiB + 3;
        const got = await flow.range(bucket, keys.multi, start, MiB + 5, env.multiFile);
        assert.ok(got.equals(await readSlice(env.multiFile, start, MiB + 5)), 'range bytes');
      });
      step('list', async () => {
        const listed = await flow.list(bucket);
        assert.deepEqual(withoutFolderObjects(listed, [keys.small, keys.multi]).sort(), [keys.small, keys.multi].sort(), listed.join(', '));
      });
      step('copy (server-side)', async () => {
        await flow.copy(bucket, keys.small, keys.copy);
        assert.equal((await env.check.send(new HeadObjectCommand({ Bucket: bucket, Key: keys.copy }))).ETag, quotedMd5(SMALL.body));
      });
      step('delete many', async () => {
        await flow.deleteMany(bucket, [keys.small, keys.multi, keys.copy]);
        assert.deepEqual((await env.check.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [], []);
      });
      step('remove the bucket', () => flow.rb(bucket));
    });
  }
}

// ---------------------------------------------------------------- redirects off

describe('nginx in front of the workers, redirects off', () => {
  const env = useEnv({ 'alluxio.worker.s3.virtual.host.domains': 'localhost' });

  it('passes Host, header names with underscores and user metadata unchanged', async () => {
    const { lb } = env;
    // Virtual-hosted style works only if the worker sees the client's own Host.
    const vhost = await fetchVia(lb.port, 'PUT', '/', { Host: `vh-bucket.localhost:${lb.port}` });
    assert.equal(vhost.status, 200, vhost.body);
    const put = await fetchVia(lb.port, 'PUT', '/vh-bucket/odd.txt', { 'x-amz-meta-my_key': 'under_score', 'x-amz-meta-x.dot': 'dotted', 'Content-Type': 'text/x-odd' }, 'odd headers');
    assert.equal(put.status, 200, put.body);
    const head = await env.check.send(new HeadObjectCommand({ Bucket: 'vh-bucket', Key: 'odd.txt' }));
    assert.deepEqual({ meta: head.Metadata, type: head.ContentType }, { meta: { my_key: 'under_score', 'x.dot': 'dotted' }, type: 'text/x-odd' });
    const got = await fetchVia(lb.port, 'GET', '/odd.txt', { Host: `vh-bucket.localhost:${lb.port}` });
    assert.equal(got.body, 'odd headers');
  });

  it('streams a 128 MiB upload sent with Expect: 100-continue, and a 100 MiB download', { timeout: 400_000 }, async () => {
    const { lb, c } = env;
    assert.equal((await fetchVia(lb.port, 'PUT', '/stream-bucket', {})).status, 200);
    const size = 128 * MiB;
    const tmpDir = path.join(c.ufsRoot, '.alluxio-tmp');
    const h = createHash('md5');
    let sent = 0;
    let held = false;
    let seenWhileHeld = 0;
    const res = await new Promise<{ status: number; etag: string; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: lb.port, method: 'PUT', path: '/stream-bucket/big.bin', headers: { 'Content-Length': size, Expect: '100-continue' } });
      req.on('response', (r) => {
        let body = '';
        r.on('data', (d: Buffer) => { body += d.toString(); });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, etag: String(r.headers.etag ?? ''), body }));
      });
      req.on('error', reject);
      req.on('continue', async () => {
        try {
          const block = Buffer.alloc(MiB);
          for (let i = 0; sent < size; i++) {
            block.fill(i % 251);
            block.writeUInt32BE(i, 0);
            h.update(block);
            if (!req.write(block)) await new Promise((r) => req.once('drain', r));
            sent += block.length;
            if (!held && sent === 48 * MiB) {
              held = true;
              // Hold the rest back: the worker must already be writing what nginx passed on.
              seenWhileHeld = await waitForTempBytes(tmpDir, 16 * MiB);
            }
          }
          req.end();
        } catch (err) {
          req.destroy(err as Error);
        }
      });
    });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.etag, `"${h.digest('hex')}"`, 'ETag of the upload');
    assert.ok(seenWhileHeld >= 16 * MiB, `the worker had only ${seenWhileHeld} bytes while the client held back after 48 MiB`);
    assert.deepEqual(await lb.tempFiles(), [], 'nginx spooled a body to disk');

    // The download: 100 MiB from the UFS, through nginx, byte for byte.
    const src = path.join(env.tmp, 'down-src.bin');
    const md5 = await writeStampedFile(src, BIG_SIZE);
    await pipeline(createReadStream(src), (await fs.open(path.join(c.ufsRoot, 'stream-bucket', 'down.bin'), 'w')).createWriteStream());
    const r = await fetch(`${lb.endpoint}/stream-bucket/down.bin`);
    assert.equal(r.status, 200);
    const dh = createHash('md5');
    let n = 0;
    for await (const d of r.body as unknown as AsyncIterable<Uint8Array>) {
      dh.update(d);
      n += d.length;
    }
    assert.equal(n, BIG_SIZE);
    assert.equal(dh.digest('hex'), md5);
    assert.deepEqual(await lb.tempFiles(), [], 'nginx spooled a response to disk');
    assert.doesNotMatch(await fs.readFile(path.join(lb.dir, 'logs', 'error.log'), 'utf8'), /buffered to a temporary file/);
  });

  flowTests(env, TEST_KEYS);

  describe('boto3 (the whole compat scenario, tests/compat/python/scenario_boto3.py)', () => {
    it('every step passes through nginx', { timeout: 500_000 }, async () => {
      const bigFile = path.join(env.tmp, 'boto3-big.bin');
      const bigMd5 = await writeRandomFile(bigFile, BIG_SIZE);
      const bucket = `lb-boto3-${Date.now().toString(36)}`;
      const plan = {
        endpoint: env.lb.endpoint, bucket, bigFile, bigMd5, bigSize: BIG_SIZE, ufsRoot: env.c.ufsRoot, tmp: env.tmp,
        keys: { small: 'hello-0.txt', big: 'big/blob-0.bin', copy: 'copies/hello-copy-0.txt', bigCopy: 'copies/big-copy-0.bin', plain: 'plain-0.bin', stream: 'stream/fileobj-0.bin' },
        small: { ...SMALL, body: SMALL.body.toString('latin1') },
      };
      const r = await exec('python3', [path.join(REPO_ROOT, 'tests', 'compat', 'python', 'scenario_boto3.py')], { env: { ...BOTO3_ENV, SCENARIO_PLAN: JSON.stringify(plan) }, timeoutMs: 450_000 });
      await fs.rm(bigFile, { force: true });
      const steps = r.stdout.split('\n').filter((l) => l.startsWith('STEP ')).map((l) => JSON.parse(l.slice(5)) as { step: string; ok: boolean; error?: string });
      assert.ok(steps.length >= 15, `scenario_boto3.py reported ${steps.length} steps (python3 with boto3 is required):\n${explain(r)}`);
      assert.deepEqual(steps.filter((s) => !s.ok).map((s) => `${s.step}: ${s.error}`), [], 'boto3 steps that failed through nginx');
    });
  });
});

// ---------------------------------------------------------------- SIGV4 behind nginx

/**
 * Signatures verified behind the load balancer: nginx passes Host and every signed header as
 * the client sent them, so the worker that serves (or the owner a worker proxies to) checks the
 * client's own signature. The same short flow for every client with keys from a credentials
 * file; a wrong secret, a tampered presigned URL and an expired one are refused through nginx.
 */
describe('nginx in front of the workers, SIGV4 authentication', () => {
  const credDir = tempDir('nginx-lb-keys');
  const keys: Keys = { id: `AK${randomBytes(9).toString('hex').toUpperCase()}`, secret: randomBytes(30).toString('base64url') };
  const credFile = path.join(credDir, 's3-credentials');
  writeFileSync(credFile, `${keys.id} ${keys.secret} lb-user\n`, { mode: 0o600 });
  after(() => rmSync(credDir, { recursive: true, force: true }));
  const env = useEnv({ 'alluxio.worker.s3.authentication': 'SIGV4', 'alluxio.worker.s3.credentials.file': credFile }, undefined, keys);

  flowTests(env, keys);

  it('a wrong secret is refused through nginx and writes nothing', async () => {
    const bucket = `lb-sigv4-${Date.now().toString(36)}`;
    await env.check.send(new CreateBucketCommand({ Bucket: bucket }));
    const wrong = sdk(env.lb.endpoint, { id: keys.id, secret: `${keys.secret.slice(0, -1)}X` });
    try {
      await assert.rejects(wrong.send(new PutObjectCommand({ Bucket: bucket, Key: 'nope.txt', Body: 'x' })), (e: Error) => e.name === 'SignatureDoesNotMatch');
      await assert.rejects(wrong.send(new ListObjectsV2Command({ Bucket: bucket })), (e: Error) => e.name === 'SignatureDoesNotMatch');
    } finally {
      wrong.destroy();
    }
    assert.deepEqual((await env.check.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [], []);
  });

  it('a presigned GET works through nginx; tampered or expired, it is refused', async () => {
    const bucket = `lb-presign-${Date.now().toString(36)}`;
    await env.check.send(new CreateBucketCommand({ Bucket: bucket }));
    await env.check.send(new PutObjectCommand({ Bucket: bucket, Key: 'p.txt', Body: 'presigned through nginx' }));
    const sigKeys = { accessKeyId: keys.id, secretAccessKey: keys.secret };
    const url = await presign(sigKeys, 'GET', `${env.lb.endpoint}/${bucket}/p.txt`, 300);
    const good = await fetch(url);
    assert.equal(good.status, 200);
    assert.equal(await good.text(), 'presigned through nginx');
    const tampered = await fetch(url.replace('p.txt', 'q.txt'));
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    const expired = await presign(sigKeys, 'GET', `${env.lb.endpoint}/${bucket}/p.txt`, 60, { signingDate: new Date(Date.now() - 3600_000) });
    const late = await fetch(expired);
    assert.equal(late.status, 403);
    assert.match(await late.text(), /<Code>AccessDenied<\/Code>/);
  });
});

// ---------------------------------------------------------------- redirects on

describe('nginx in front of the workers, redirects on (alluxio.worker.s3.redirect.enabled=true)', () => {
  let owner: TestWorker;
  const bucket = 'redirect-bucket';
  let key = '';
  // nginx fronts the two workers that do not own the key: every GET/HEAD of it is redirected.
  const env = useEnv({ 'alluxio.worker.s3.redirect.enabled': 'true' }, (c) => {
    owner = c.workers[0];
    key = c.keyOwnedBy(owner, bucket, 'obj-');
    return c.workers.filter((w) => w !== owner);
  });

  before(async () => {
    await env.check.send(new CreateBucketCommand({ Bucket: bucket }));
    await env.check.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: SMALL.body }));
  });

  it('a GET and a HEAD are answered 307 with the owner worker\'s own address', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await fetchVia(env.lb.port, method, `/${bucket}/${key}`, {});
      assert.equal(r.status, 307, `${method}: ${r.body}`);
      const loc = new URL(r.headers.location ?? '');
      assert.equal(`${loc.hostname}:${loc.port}`, `127.0.0.1:${owner.s3Port}`, `${method} Location ${r.headers.location}`);
      assert.equal(loc.pathname, `/${bucket}/${key}`);
    }
  });

  /** Each client's GET of the key through nginx: does it read the object (follow the 307)? */
  // [client, reads the object?, how it fails when it does not, its GET]
  const expectations: [string, boolean, RegExp | undefined, (work: string, out: string) => Promise<ExecResult | void>][] = [
    ['curl -L', true, undefined, async (_w, out) => ok(exec('curl', ['-sS', '-f', '-L', '-o', out, `${env.lb.endpoint}/${bucket}/${key}`], { timeoutMs: 60_000 }))],
    // s3cmd re-signs a 307 for the <Endpoint> of its body, but its HEAD before the GET has no body
    // and it keeps only the hostname of Location, dropping the port (S3-CLIENTS.md T5).
    ['s3cmd get', false, /Connection refused/, async (w, out) => {
      const cfg = await writeS3cmdConfig(w, '127.0.0.1', env.lb.port);
      return ok(exec('s3cmd', ['-c', cfg, 'get', '--force', `s3://${bucket}/${key}`, out], { env: { HOME: w }, timeoutMs: 60_000 }));
    }],
    ['rclone copyto', true, undefined, async (w, out) => ok(exec('rclone', ['copyto', `alx:${bucket}/${key}`, out], { env: await rcloneEnv(w, 'alx', env.lb.endpoint), timeoutMs: 60_000 }))],
    ['JS SDK GetObject', false, /TemporaryRedirect/, async (_w, out) => {
      const r = await env.check.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      await fs.writeFile(out, await r.Body!.transformToByteArray());
    }],
    ['boto3 get_object', false, /TemporaryRedirect|307/, async (_w, out) => ok(exec('python3', ['-c', [
      'import boto3, sys',
      `s3 = boto3.client("s3", endpoint_url="${env.lb.endpoint}", aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")`,
      `open(sys.argv[1], "wb").write(s3.get_object(Bucket="${bucket}", Key="${key}")["Body"].read())`,
    ].join('\n'), out], { env: BOTO3_ENV, timeoutMs: 60_000 }))],
    ['aws s3 cp (v1)', false, /307|TemporaryRedirect|Redirect/, async (w, out) => ok(runAws(await resolveAwsV1(), await awsEnv(w), env.lb.endpoint, ['s3', 'cp', `s3://${bucket}/${key}`, out], w, 60_000))],
    ['aws s3 cp (v2)', false, /307|TemporaryRedirect|Redirect/, async (w, out) => ok(runAws(await resolveAwsV2(), await awsEnv(w), env.lb.endpoint, ['s3', 'cp', `s3://${bucket}/${key}`, out], w, 60_000))],
    // fGetObject asks statObject (HEAD) first; a bodiless 307 reads as a wrong endpoint (T3).
    ['minio-js fGetObject', false, /correct endpoint URL|TemporaryRedirect/, async (_w, out) => {
      await new Minio.Client({ endPoint: '127.0.0.1', port: env.lb.port, useSSL: false, accessKey: 'test', secretKey: 'test', region: 'us-east-1' }).fGetObject(bucket, key, out);
    }],
  ];
  for (const [client, follows, failure, get] of expectations) {
    it(`${client}: ${follows ? 'follows the 307 and reads the object' : 'does not follow the 307 (fails)'}`, { timeout: 120_000 }, async () => {
      const work = path.join(env.tmp, `redirect-${client.replace(/\W+/g, '-')}`);
      await fs.mkdir(work, { recursive: true });
      const out = path.join(work, 'out.bin');
      let error = '';
      try {
        await get(work, out);
      } catch (err) {
        error = `${(err as Error).name}: ${(err as Error).message}`;
      }
      const read = await fs.readFile(out).then((b) => b.equals(SMALL.body), () => false);
      if (follows) assert.ok(read && !error, `${client} did not read the object through a 307: ${error}`);
      else {
        assert.ok(error && !read, `${client} read the object through a 307, which it is not known to do`);
        assert.match(error, failure!, `${client} failed for another reason than the redirect: ${error.slice(0, 2000)}`);
      }
    });
  }
});

// ---------------------------------------------------------------- helpers

/** One raw HTTP request to nginx (exact headers, no client library). */
function fetchVia(port: number, method: string, urlPath: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: { ...headers, ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits until the UFS temp dir holds at least `bytes` (an upload being written); returns what it saw. */
async function waitForTempBytes(dir: string, bytes: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  let seen = 0;
  while (Date.now() < deadline) {
    seen = 0;
    for (const f of await fs.readdir(dir).catch(() => [] as string[])) seen += await fs.stat(path.join(dir, f)).then((s) => s.size, () => 0);
    if (seen >= bytes) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}
