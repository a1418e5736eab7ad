/**
 * TLS end to end: workers serve S3 over HTTPS with only-HTTPS access, every gRPC link
 * (coordinator, peers, CLI) runs over TLS, and forwarding between workers is authenticated
 * by the cluster secret. Clients: the JS SDK (custom CA through an https.Agent), boto3
 * (verify=<CA file>), the CLI. Also: secrets never reach the worker logs.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { promises as fs, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { runCli, runCommand, startCluster, tempDir, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';

describe('TLS: HTTPS S3, only-HTTPS access, gRPC over TLS', () => {
  let c: TestCluster;
  let certs: TestCerts;
  let ca: Buffer;
  const httpsPorts: number[] = [];
  const bucket = 'secure';
  const SECRET_KEY = 'wJalrXUtnFEMI-test-secret-never-logged';

  const httpsEndpoint = (w: TestWorker) => `https://127.0.0.1:${httpsPorts[w.index]}`;
  const sdk = (w: TestWorker) => new S3Client({
    endpoint: httpsEndpoint(w), region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: 'alice', secretAccessKey: SECRET_KEY, sessionToken: 'session-token-never-logged' },
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }),
  });
  const tlsConf = () => ({
    'alluxio.network.tls.enabled': 'true',
    'alluxio.network.tls.cert.file': certs.cert,
    'alluxio.network.tls.key.file': certs.key,
    'alluxio.network.tls.ca.file': certs.ca,
  });

  before(async () => {
    const dir = tempDir('tls');
    certs = await makeCerts(path.join(dir, 'certs'));
    ca = readFileSync(certs.ca);
    for (let i = 0; i < 3; i++) httpsPorts.push(await freePort());
    c = await startCluster({
      dataDir: path.join(dir, 'cluster'),
      conf: {
        ...tlsConf(),
        'alluxio.worker.s3.https.cert.file': certs.cert,
        'alluxio.worker.s3.https.key.file': certs.key,
        'alluxio.worker.s3.only.https.access': 'true',
        'alluxio.worker.s3.access.logging.enabled': 'true',
      },
      workerConf: (i) => ({ 'alluxio.worker.s3.https.port': String(httpsPorts[i]) }),
    });
    await sdk(c.workers[0]).send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => { await c?.close(); });

  it('the JS SDK reads and writes over HTTPS, through the owner and through a worker that proxies', async () => {
    for (const via of ['owner', 'proxy'] as const) {
      const key = `sdk/${via}.bin`;
      const w = via === 'owner' ? c.owner(bucket, key) : c.nonOwner(bucket, key);
      const body = randomBytes(3 * 1024 * 1024 + 17);
      await sdk(w).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      const got = await sdk(w).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
      // Written through to the UFS at the owner's hand.
      assert.deepEqual(await fs.readFile(path.join(c.ufsRoot, bucket, key)), body);
    }
  });

  it('plain HTTP S3 requests are refused with AccessDenied; health stays reachable', async () => {
    const r = await fetch(`${c.workers[0].endpoint}/${bucket}/sdk/owner.bin`);
    assert.equal(r.status, 403);
    const text = await r.text();
    assert.match(text, /<Code>AccessDenied<\/Code>/);
    assert.match(text, /only accessible over HTTPS/);
    assert.equal((await fetch(`${c.workers[0].endpoint}/_alluxio/health`)).status, 200);
  });

  it('a forged forwarding marker is ignored: the request is routed to the owner, internal endpoints answer 403', async () => {
    const key = 'forged/x.bin';
    await sdk(c.owner(bucket, key)).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'forged' }));
    const other = c.nonOwner(bucket, key);
    const owner = c.owner(bucket, key);
    const before = { owner: await c.stats(owner), other: await c.stats(other) };
    const get = (url: string, headers: Record<string, string>) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      https.get(url, { ca, headers }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    const forged = { 'x-alluxio-forwarded': `${other.id}:0123456789ABCDEF:${Math.floor(Date.now() / 1000)}:AAAA`, 'x-alluxio-request-id': '0123456789ABCDEF' };
    const r = await get(`${httpsEndpoint(other)}/${bucket}/${key}`, forged);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'forged');
    const after = { owner: await c.stats(owner), other: await c.stats(other) };
    const reads = (s: typeof before.owner) => s.cache.pageHits + s.cache.pageMisses;
    assert.ok(reads(after.owner) > reads(before.owner), 'the owner served the read');
    assert.equal(reads(after.other), reads(before.other), 'the receiving worker did not serve it itself');
    for (const p of [`/_alluxio/uploads?bucket=${bucket}&prefix=`, `/_alluxio/wc?path=/${bucket}/${key}&writeId=x`]) {
      for (const base of [httpsEndpoint(other), other.endpoint.replace('https', 'http')]) {
        const x = base.startsWith('https') ? await get(`${base}${p}`, forged) : await fetch(`${base}${p}`, { headers: forged }).then(async (res) => ({ status: res.status, body: await res.text() }));
        assert.equal(x.status, 403, `${base}${p}: ${x.body}`);
      }
    }
  });

  it('boto3 works over HTTPS with verify=<CA file>, through a proxying worker', async () => {
    const key = 'boto/obj.txt';
    const w = c.nonOwner(bucket, key);
    const script = `
import boto3, sys
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='bob', aws_secret_access_key='${SECRET_KEY}', verify=sys.argv[2])
s3.put_object(Bucket='${bucket}', Key='${key}', Body=b'hello over tls')
print(s3.get_object(Bucket='${bucket}', Key='${key}')['Body'].read().decode())
`;
    const r = await runCommand('python3', ['-c', script, httpsEndpoint(w), certs.ca], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'hello over tls');
    // Without the CA the client refuses the server: the certificate is really checked.
    const bad = await runCommand('python3', ['-c', script, httpsEndpoint(w), 'True'], { timeoutMs: 60_000 });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /CERTIFICATE_VERIFY_FAILED|SSL/);
  });

  it('the CLI talks to the coordinator over TLS, and a plain-text CLI cannot', async () => {
    const ok = await runCli(['worker', 'list', '--json'], { conf: { ...c.cliConf(), 'alluxio.network.tls.enabled': 'true', 'alluxio.network.tls.ca.file': certs.ca } });
    assert.equal(ok.code, 0, ok.stderr);
    const doc = JSON.parse(ok.stdout) as { workers: { id: string; health: string }[] };
    assert.deepEqual(doc.workers.map((w) => w.id).sort(), ['worker-0', 'worker-1', 'worker-2']);
    const plain = await runCli(['worker', 'list'], { conf: c.cliConf(), timeoutMs: 60_000 });
    assert.notEqual(plain.code, 0);
    assert.equal(plain.stderr.trim().split('\n').length, 1, plain.stderr);
  });

  it('the coordinator keeps a generated cluster secret readable only by its owner', () => {
    const file = path.join(c.dataDir, 'coordinator', 'cluster.secret');
    assert.equal(statSync(file).mode & 0o077, 0);
    assert.ok(readFileSync(file, 'utf8').trim().length >= 32);
  });

  it('no secret reaches a worker log: signatures, session tokens, presigned signatures, the cluster secret', async () => {
    const key = 'presigned/x.txt';
    const w = c.nonOwner(bucket, key);
    const sig = 'f00dfacecafe'.repeat(5) + 'abcd';
    const url = `${httpsEndpoint(w)}/${bucket}/${key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=alice%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=presigned-token-never-logged&X-Amz-Signature=${sig}`;
    await new Promise<void>((resolve, reject) => https.get(url, { ca }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));
    const logs = (await Promise.all(c.workers.map((x) => fs.readFile(path.join(c.logDir, `${x.id}.log`), 'utf8')))).join('\n');
    const clusterSecret = readFileSync(path.join(c.dataDir, 'coordinator', 'cluster.secret'), 'utf8').trim();
    assert.match(logs, /presigned\/x\.txt/, 'the access log has the request');
    for (const secret of [sig, 'presigned-token-never-logged', 'session-token-never-logged', SECRET_KEY, clusterSecret, 'Signature=']) {
      assert.ok(!logs.includes(secret) || secret === 'Signature=' && !/Signature=[0-9a-f]/.test(logs), `a worker log contains ${secret}`);
    }
    assert.ok(!/AWS4-HMAC-SHA256 Credential=[^"]*Signature=[0-9a-f]{64}/.test(logs), 'no Authorization header in the logs');
  });
});
