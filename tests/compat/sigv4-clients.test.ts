/**
 * Every client of tests/compat against ONE 3-worker cluster in SIGV4 mode, with a key pair made
 * by `alluxio credentials create`: a short flow per client (put, get, list, multipart where the
 * client does it, delete) through a worker that owns only some of the keys (so requests are also
 * proxied), the presigned URLs the client can make (they work, and a 1-second one has expired
 * once we waited past it), and one command with a wrong secret that must fail with
 * SignatureDoesNotMatch. A missing client is a failure, never a skip.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import * as Minio from 'minio';
import { runCli, startCluster, tempDir, type TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/ports.js';
import { presign, type Keys } from '../helpers/sigv4.js';
import { AWS_V2, awsEnv, awsVersion, runAws, type AwsCli } from './awscli-scenario.js';
import { MiB, exec, explain, md5File, writeRandomFile, type ExecResult } from './scenario.js';

const BIG = 12 * MiB; // above every client's multipart threshold once set to 5 MiB
const SMALL = 'small object, signed\n';

interface Fixture {
  cluster: TestCluster;
  endpoint: string;
  host: string;
  port: number;
  keys: Keys;
  wrong: Keys;
  tmp: string;
  smallFile: string;
  bigFile: string;
  bigMd5: string;
  sdk: S3Client;
  /** Presigned URLs that must be dead by the end (checked in one place after waiting once). */
  shortLived: { client: string; url: string; notAfter: number }[];
}

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

async function fetchOk(url: string, wantMd5: string, what: string): Promise<void> {
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200, `${what}: ${url}\n${body.toString().slice(0, 2000)}`);
  assert.equal(md5(body), wantMd5, `${what}: wrong bytes`);
}

function ok(r: ExecResult): ExecResult {
  assert.ok(r.code === 0 && !r.timedOut, explain(r));
  return r;
}

function refused(r: ExecResult, what: string): void {
  assert.ok(r.code !== 0 && !r.timedOut, `${what} should have failed:\n${explain(r)}`);
  assert.match(`${r.stdout}\n${r.stderr}`, /SignatureDoesNotMatch|signature we calculated does not match/i, `${what}: not refused for its signature:\n${explain(r)}`);
}

describe('every compat client in SIGV4 mode', () => {
  const f = {} as Fixture;

  before(async () => {
    f.tmp = tempDir('sigv4-clients');
    const credFile = path.join(f.tmp, 's3-credentials');
    const r = await runCli(['credentials', 'create', 'compat', '--file', credFile]);
    assert.equal(r.code, 0, r.stderr);
    f.keys = { accessKeyId: /AccessKeyId\s+(\S+)/.exec(r.stdout)![1], secretAccessKey: /SecretAccessKey\s+(\S+)/.exec(r.stdout)![1] };
    f.wrong = { ...f.keys, secretAccessKey: `${f.keys.secretAccessKey.slice(0, -1)}X` };
    f.cluster = await startCluster({ dataDir: path.join(f.tmp, 'cluster'), conf: { 'alluxio.worker.s3.authentication': 'SIGV4', 'alluxio.worker.s3.credentials.file': credFile } });
    const w = f.cluster.workers[1];
    f.endpoint = w.endpoint;
    f.host = '127.0.0.1';
    f.port = w.s3Port;
    f.sdk = new S3Client({ endpoint: f.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: f.keys });
    f.smallFile = path.join(f.tmp, 'small.txt');
    await fs.writeFile(f.smallFile, SMALL);
    f.bigFile = path.join(f.tmp, 'big.bin');
    f.bigMd5 = await writeRandomFile(f.bigFile, BIG);
    f.shortLived = [];
  }, { timeout: 180_000 });

  after(async () => {
    await f.cluster?.close();
  }, { timeout: 60_000 });

  const bucket = async (name: string) => {
    await f.sdk.send(new CreateBucketCommand({ Bucket: name }));
    return name;
  };
  /** The keys the flow leaves behind: exactly the big object (the small one was deleted). */
  const assertLeft = async (b: string) => {
    const list = await f.sdk.send(new ListObjectsV2Command({ Bucket: b }));
    assert.deepEqual((list.Contents ?? []).map((o) => o.Key), ['big.bin']);
    assert.match(list.Contents![0].ETag!, /-\d+"$/, 'the big object went up in parts');
  };

  it('JS SDK v3 (+ lib-storage, SigV4 presign by the SDK signer)', async () => {
    const b = await bucket('sig-js');
    await f.sdk.send(new PutObjectCommand({ Bucket: b, Key: 'small.txt', Body: SMALL }));
    await new Upload({ client: f.sdk, params: { Bucket: b, Key: 'big.bin', Body: await fs.readFile(f.bigFile) }, partSize: 5 * MiB }).done();
    const got = await f.sdk.send(new GetObjectCommand({ Bucket: b, Key: 'small.txt' }));
    assert.equal(await got.Body!.transformToString(), SMALL);
    await f.sdk.send(new DeleteObjectCommand({ Bucket: b, Key: 'small.txt' }));
    await assertLeft(b);
    await fetchOk(await presign(f.keys, 'GET', `${f.endpoint}/${b}/big.bin`, 3600), f.bigMd5, 'JS presigned URL');
    f.shortLived.push({ client: 'JS SDK', url: await presign(f.keys, 'GET', `${f.endpoint}/${b}/big.bin`, 1), notAfter: Date.now() + 1000 });
    const wrong = new S3Client({ endpoint: f.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: f.wrong, maxAttempts: 1 });
    await assert.rejects(wrong.send(new ListObjectsV2Command({ Bucket: b })), (e: Error) => e.name === 'SignatureDoesNotMatch');
  });

  it('boto3 (upload_file multipart; presigned SigV2 and SigV4)', async () => {
    const b = await bucket('sig-boto3');
    const script = `
import json, sys, time, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from boto3.s3.transfer import TransferConfig
a = json.loads(sys.argv[1])
def client(secret, sv=None):
    return boto3.client('s3', endpoint_url=a['endpoint'], region_name='us-east-1', aws_access_key_id=a['akid'], aws_secret_access_key=secret,
                        config=Config(signature_version=sv, retries={'max_attempts': 1}) if sv else Config(retries={'max_attempts': 1}))
s3 = client(a['secret'])
s3.put_object(Bucket=a['bucket'], Key='small.txt', Body=open(a['small'], 'rb').read())
s3.upload_file(a['big'], a['bucket'], 'big.bin', Config=TransferConfig(multipart_threshold=5*1024*1024, multipart_chunksize=5*1024*1024))
assert s3.get_object(Bucket=a['bucket'], Key='small.txt')['Body'].read() == open(a['small'], 'rb').read()
keys = [o['Key'] for o in s3.list_objects_v2(Bucket=a['bucket'])['Contents']]
assert keys == ['big.bin', 'small.txt'], keys
s3.download_file(a['bucket'], 'big.bin', a['down'])
s3.delete_object(Bucket=a['bucket'], Key='small.txt')
out = {'at': time.time()}
for name, sv in (('v2', 's3'), ('v4', 's3v4')):
    c = client(a['secret'], sv)
    out[name] = c.generate_presigned_url('get_object', Params={'Bucket': a['bucket'], 'Key': 'big.bin'}, ExpiresIn=3600)
    out[name + 'short'] = c.generate_presigned_url('get_object', Params={'Bucket': a['bucket'], 'Key': 'big.bin'}, ExpiresIn=1)
try:
    client(a['wrong']).list_objects_v2(Bucket=a['bucket'])
    out['wrong'] = 'accepted'
except ClientError as e:
    out['wrong'] = e.response['Error']['Code']
print(json.dumps(out))
`;
    const down = path.join(f.tmp, 'boto3-down.bin');
    const arg = JSON.stringify({ endpoint: f.endpoint, bucket: b, akid: f.keys.accessKeyId, secret: f.keys.secretAccessKey, wrong: f.wrong.secretAccessKey, small: f.smallFile, big: f.bigFile, down });
    const r = ok(await exec('python3', ['-c', script, arg], { timeoutMs: 240_000, env: { AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: undefined } }));
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string> & { at: number };
    assert.equal(await md5File(down), f.bigMd5);
    await assertLeft(b);
    assert.match(out.v2, /[?&]AWSAccessKeyId=.*Signature=/, 'signature_version=s3 presigns with SigV2');
    assert.match(out.v4, /X-Amz-Algorithm=AWS4-HMAC-SHA256/);
    await fetchOk(out.v2, f.bigMd5, 'boto3 SigV2 presigned URL');
    await fetchOk(out.v4, f.bigMd5, 'boto3 SigV4 presigned URL');
    f.shortLived.push({ client: 'boto3 SigV2', url: out.v2short, notAfter: out.at * 1000 + 2000 }, { client: 'boto3 SigV4', url: out.v4short, notAfter: out.at * 1000 + 2000 });
    assert.equal(out.wrong, 'SignatureDoesNotMatch');
  });

  const awsFlow = (name: string, resolve: () => Promise<AwsCli>, presignForm: RegExp) => async () => {
    const cli = await resolve();
    const b = await bucket(`sig-${name}`);
    const dir = path.join(f.tmp, name);
    await fs.mkdir(dir, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...(await awsEnv(dir)), AWS_ACCESS_KEY_ID: f.keys.accessKeyId, AWS_SECRET_ACCESS_KEY: f.keys.secretAccessKey };
    await fs.writeFile(env.AWS_CONFIG_FILE!, '[default]\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n');
    const aws = (args: string[], e = env) => runAws(cli, e, f.endpoint, args, dir);
    ok(await aws(['s3', 'cp', f.smallFile, `s3://${b}/small.txt`]));
    ok(await aws(['s3', 'cp', f.bigFile, `s3://${b}/big.bin`]));
    const ls = ok(await aws(['s3', 'ls', `s3://${b}/`]));
    assert.match(ls.stdout, /big\.bin/);
    assert.match(ls.stdout, /small\.txt/);
    ok(await aws(['s3', 'cp', `s3://${b}/big.bin`, path.join(dir, 'down.bin')]));
    assert.equal(await md5File(path.join(dir, 'down.bin')), f.bigMd5);
    ok(await aws(['s3', 'rm', `s3://${b}/small.txt`]));
    await assertLeft(b);
    const url = ok(await aws(['s3', 'presign', `s3://${b}/big.bin`, '--expires-in', '3600'])).stdout.trim();
    assert.match(url, presignForm);
    await fetchOk(url, f.bigMd5, `${name} presigned URL`);
    const at = Date.now();
    f.shortLived.push({ client: name, url: ok(await aws(['s3', 'presign', `s3://${b}/big.bin`, '--expires-in', '1'])).stdout.trim(), notAfter: Date.now() + 2000 + (Date.now() - at) });
    refused(await aws(['s3', 'ls', `s3://${b}/`], { ...env, AWS_SECRET_ACCESS_KEY: f.wrong.secretAccessKey }), `${name} with a wrong secret`);
  };

  it('AWS CLI v1 (presign is SigV2)', awsFlow('awscli-v1', async () => {
    const v = await awsVersion('aws');
    if (v?.startsWith('aws-cli/1.')) return { cmd: 'aws', pre: [], version: v };
    const m = await awsVersion('python3', ['-m', 'awscli']);
    assert.ok(m?.startsWith('aws-cli/1.'), `the AWS CLI v1 is required (aws on PATH is ${v ?? 'missing'})`);
    return { cmd: 'python3', pre: ['-m', 'awscli'], version: m! };
  }, /AWSAccessKeyId=.*Signature=/));

  it('AWS CLI v2 (presign is SigV4)', awsFlow('awscli-v2', async () => {
    const v = await awsVersion(AWS_V2);
    assert.ok(v?.startsWith('aws-cli/2.'), `the AWS CLI v2 is required at ${AWS_V2} (found ${v ?? 'nothing'})`);
    return { cmd: AWS_V2, pre: [], version: v! };
  }, /X-Amz-Algorithm=AWS4-HMAC-SHA256/));

  it('s3cmd (SigV4 headers, SigV2 headers with signature_v2, SigV2 signurl)', async () => {
    const b = await bucket('sig-s3cmd');
    const dir = path.join(f.tmp, 's3cmd');
    await fs.mkdir(dir, { recursive: true });
    const cfg = async (keys: Keys, v2: boolean) => {
      const file = path.join(dir, `s3cfg-${keys.secretAccessKey === f.keys.secretAccessKey ? 'good' : 'bad'}-${v2}`);
      await fs.writeFile(file, ['[default]', `access_key = ${keys.accessKeyId}`, `secret_key = ${keys.secretAccessKey}`, `host_base = ${f.host}:${f.port}`, `host_bucket = ${f.host}:${f.port}`,
        'use_https = False', `signature_v2 = ${v2 ? 'True' : 'False'}`, 'bucket_location = us-east-1', 'progress_meter = False', 'multipart_chunk_size_mb = 5', ''].join('\n'));
      return file;
    };
    const good = await cfg(f.keys, false);
    const s3cmd = (file: string, args: string[]) => exec('s3cmd', ['-c', file, ...args], { env: { HOME: dir }, timeoutMs: 240_000, cwd: dir });
    ok(await s3cmd(good, ['put', f.smallFile, `s3://${b}/small.txt`]));
    ok(await s3cmd(good, ['put', f.bigFile, `s3://${b}/big.bin`]));
    const ls = ok(await s3cmd(good, ['ls', `s3://${b}/`]));
    assert.match(ls.stdout, /big\.bin[\s\S]*small\.txt|small\.txt[\s\S]*big\.bin/);
    ok(await s3cmd(good, ['get', '--force', `s3://${b}/big.bin`, path.join(dir, 'down.bin')]));
    assert.equal(await md5File(path.join(dir, 'down.bin')), f.bigMd5);
    const v2 = await cfg(f.keys, true);
    ok(await s3cmd(v2, ['get', '--force', `s3://${b}/small.txt`, path.join(dir, 'small-v2.txt')]));
    assert.equal(await fs.readFile(path.join(dir, 'small-v2.txt'), 'utf8'), SMALL);
    ok(await s3cmd(v2, ['del', `s3://${b}/small.txt`]));
    await assertLeft(b);
    const url = ok(await s3cmd(good, ['signurl', `s3://${b}/big.bin`, '+3600'])).stdout.trim();
    assert.match(url, /AWSAccessKeyId=.*Signature=/);
    await fetchOk(url, f.bigMd5, 's3cmd signurl');
    f.shortLived.push({ client: 's3cmd', url: ok(await s3cmd(good, ['signurl', `s3://${b}/big.bin`, '+1'])).stdout.trim(), notAfter: Date.now() + 2000 });
    refused(await s3cmd(await cfg(f.wrong, false), ['ls', `s3://${b}/`]), 's3cmd (SigV4) with a wrong secret');
    refused(await s3cmd(await cfg(f.wrong, true), ['ls', `s3://${b}/`]), 's3cmd (SigV2) with a wrong secret');
  });

  it('rclone (multipart above a 5 MiB cutoff; link presigns with SigV4)', async () => {
    const b = await bucket('sig-rclone');
    const dir = path.join(f.tmp, 'rclone');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'rclone.conf'), '');
    const env = (keys: Keys): NodeJS.ProcessEnv => ({
      HOME: dir, XDG_CONFIG_HOME: dir, XDG_CACHE_HOME: path.join(dir, 'cache'), RCLONE_CONFIG: path.join(dir, 'rclone.conf'),
      RCLONE_CONFIG_SIG_TYPE: 's3', RCLONE_CONFIG_SIG_PROVIDER: 'Other', RCLONE_CONFIG_SIG_ENDPOINT: f.endpoint, RCLONE_CONFIG_SIG_REGION: 'us-east-1',
      RCLONE_CONFIG_SIG_ACCESS_KEY_ID: keys.accessKeyId, RCLONE_CONFIG_SIG_SECRET_ACCESS_KEY: keys.secretAccessKey,
      AWS_CA_BUNDLE: undefined, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PROFILE: undefined, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined,
      RCLONE_RETRIES: '1', RCLONE_LOW_LEVEL_RETRIES: '1',
    });
    const rclone = (args: string[], keys = f.keys) => exec('rclone', args, { env: env(keys), timeoutMs: 240_000, cwd: dir });
    ok(await rclone(['copyto', f.smallFile, `sig:${b}/small.txt`]));
    ok(await rclone(['copyto', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', f.bigFile, `sig:${b}/big.bin`]));
    assert.deepEqual(ok(await rclone(['lsf', `sig:${b}`])).stdout.trim().split('\n').sort(), ['big.bin', 'small.txt']);
    assert.equal(md5(ok(await rclone(['cat', `sig:${b}/big.bin`])).stdoutBytes), f.bigMd5);
    ok(await rclone(['deletefile', `sig:${b}/small.txt`]));
    const list = await f.sdk.send(new ListObjectsV2Command({ Bucket: b }));
    assert.deepEqual((list.Contents ?? []).map((o) => o.Key), ['big.bin']);
    const url = ok(await rclone(['link', '--expire', '1h', `sig:${b}/big.bin`])).stdout.trim();
    assert.match(url, /X-Amz-Algorithm=AWS4-HMAC-SHA256/);
    await fetchOk(url, f.bigMd5, 'rclone link');
    refused(await rclone(['lsf', `sig:${b}`], f.wrong), 'rclone with a wrong secret');
  });

  it('minio-js (multipart with partSize 5 MiB; presignedGetObject)', async () => {
    const b = await bucket('sig-minio');
    const mc = new Minio.Client({ endPoint: f.host, port: f.port, useSSL: false, accessKey: f.keys.accessKeyId, secretKey: f.keys.secretAccessKey, partSize: 5 * MiB });
    await mc.putObject(b, 'small.txt', Buffer.from(SMALL));
    await mc.fPutObject(b, 'big.bin', f.bigFile);
    const names: string[] = [];
    for await (const o of mc.listObjectsV2(b, '', true) as AsyncIterable<{ name: string }>) names.push(o.name);
    assert.deepEqual(names.sort(), ['big.bin', 'small.txt']);
    const chunks: Buffer[] = [];
    for await (const c of await mc.getObject(b, 'small.txt')) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), SMALL);
    await mc.removeObject(b, 'small.txt');
    await assertLeft(b);
    await fetchOk(await mc.presignedGetObject(b, 'big.bin', 3600), f.bigMd5, 'minio-js presigned URL');
    f.shortLived.push({ client: 'minio-js', url: await mc.presignedGetObject(b, 'big.bin', 1), notAfter: Date.now() + 1000 });
    const wrong = new Minio.Client({ endPoint: f.host, port: f.port, useSSL: false, accessKey: f.wrong.accessKeyId, secretKey: f.wrong.secretAccessKey, region: 'us-east-1' });
    await assert.rejects(wrong.getObject(b, 'big.bin'), (e: { code?: string }) => e.code === 'SignatureDoesNotMatch');
  });

  it('s3fs (mounted with the key pair; a wrong secret cannot mount)', async () => {
    assert.ok(existsSync('/dev/fuse'), '/dev/fuse is required for s3fs');
    const b = await bucket('sig-s3fs');
    const dir = path.join(f.tmp, 's3fs');
    const mnt = path.join(dir, 'mnt');
    await fs.mkdir(mnt, { recursive: true });
    const isMounted = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt);
    const mount = async (keys: Keys): Promise<{ proc: ChildProcess; log: () => string; exited: Promise<number | null> }> => {
      const pw = path.join(dir, `passwd-${keys.secretAccessKey === f.keys.secretAccessKey ? 'good' : 'bad'}`);
      await fs.writeFile(pw, `${keys.accessKeyId}:${keys.secretAccessKey}\n`, { mode: 0o600 });
      const proc = spawn('s3fs', [b, mnt, '-f', '-o', `use_path_request_style,url=${f.endpoint},passwd_file=${pw},multipart_size=5,dbglevel=warn`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } });
      let log = '';
      proc.stdout!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-20_000); });
      proc.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-20_000); });
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
      proc.once('error', (e) => { log += `cannot run s3fs: ${e.message}`; });
      return { proc, log: () => log, exited };
    };
    const unmount = async (p: { proc: ChildProcess; exited: Promise<number | null> }) => {
      if (isMounted()) await exec('fusermount', ['-u', mnt], { timeoutMs: 30_000 }).catch(() => undefined);
      if (p.proc.exitCode === null && p.proc.signalCode === null) {
        const t = setTimeout(() => p.proc.kill('SIGKILL'), 10_000);
        p.proc.kill('SIGTERM');
        await p.exited;
        clearTimeout(t);
      }
    };
    const good = await mount(f.keys);
    try {
      await waitFor('s3fs to mount', async () => {
        assert.ok(good.proc.exitCode === null, `s3fs exited:\n${good.log()}`);
        return isMounted();
      }, 30_000, 100);
      const sh = (cmd: string, args: string[]) => exec(cmd, args, { cwd: mnt, timeoutMs: 240_000 });
      ok(await sh('cp', [f.smallFile, path.join(mnt, 'small.txt')]));
      ok(await sh('cp', [f.bigFile, path.join(mnt, 'big.bin')]));
      assert.deepEqual(ok(await sh('ls', [mnt])).stdout.trim().split('\n').sort(), ['big.bin', 'small.txt']);
      assert.equal(await md5File(path.join(mnt, 'big.bin')), f.bigMd5);
      ok(await sh('rm', [path.join(mnt, 'small.txt')]));
    } finally {
      await unmount(good);
    }
    await assertLeft(b);
    const bad = await mount(f.wrong);
    try {
      const code = await Promise.race([bad.exited, new Promise<'mounted'>((resolve) => {
        const t = setInterval(() => { if (isMounted()) { clearInterval(t); resolve('mounted'); } }, 100);
        void bad.exited.then(() => clearInterval(t));
      })]);
      assert.notEqual(code, 'mounted', 's3fs mounted with a wrong secret');
      // s3fs 1.90 exits 0 after its failed bucket check; what matters is why it gave up.
      assert.match(bad.log(), /SignatureDoesNotMatch/, `s3fs with a wrong secret (exit ${String(code)}) was not refused for its signature:\n${bad.log()}`);
    } finally {
      await unmount(bad);
    }
  });

  it('the short-lived presigned URLs of every client have expired: AccessDenied "Request has expired"', async () => {
    assert.ok(f.shortLived.length >= 7, `expected a short-lived URL from every presigning client, got ${f.shortLived.map((s) => s.client).join(', ')}`);
    const wait = Math.max(...f.shortLived.map((s) => s.notAfter)) + 1500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (const s of f.shortLived) {
      const res = await fetch(s.url);
      const body = await res.text();
      assert.equal(res.status, 403, `${s.client}: ${s.url}\n${body}`);
      assert.match(body, /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/, s.client);
    }
  });
});
