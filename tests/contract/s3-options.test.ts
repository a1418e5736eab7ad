/**
 * S3 UFS options beyond the common contract: server-side encryption reaches the store, and
 * credentials are taken in seed 002's order (mount options, then the environment, then the
 * SDK's chain: ~/.aws/credentials, instance profile).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { S3Client, HeadObjectCommand } from '@aws-sdk/client-s3';
import { S3UnderFileSystem, credentialsFrom } from '../../common/ufs/s3.js';
import { startMoto, createMotoBucket } from '../helpers/moto.js';

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  try { return fn(); } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
}

const NO_ENV = { AWS_ACCESS_KEY_ID: undefined, AWS_ACCESS_KEY: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SECRET_KEY: undefined, AWS_SESSION_TOKEN: undefined };

describe('S3 UFS credentials order', () => {
  it('mount options win over the environment', () => {
    const creds = withEnv({ ...NO_ENV, AWS_ACCESS_KEY_ID: 'env-id', AWS_SECRET_ACCESS_KEY: 'env-secret' }, () => credentialsFrom({ 'aws.accessKeyId': 'opt-id', 'aws.secretKey': 'opt-secret' }));
    assert.deepEqual(creds, { accessKeyId: 'opt-id', secretAccessKey: 'opt-secret' });
  });
  it('then AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the AWS_ACCESS_KEY / AWS_SECRET_KEY spellings', () => {
    const a = withEnv({ ...NO_ENV, AWS_ACCESS_KEY_ID: 'id1', AWS_SECRET_ACCESS_KEY: 's1' }, () => credentialsFrom({})) as { accessKeyId: string };
    assert.equal(a.accessKeyId, 'id1');
    const b = withEnv({ ...NO_ENV, AWS_ACCESS_KEY: 'id2', AWS_SECRET_KEY: 's2' }, () => credentialsFrom({})) as { accessKeyId: string; secretAccessKey: string };
    assert.deepEqual([b.accessKeyId, b.secretAccessKey], ['id2', 's2']);
  });
  it('then the SDK chain (~/.aws/credentials): no explicit credentials are pinned', () => {
    assert.equal(withEnv(NO_ENV, () => credentialsFrom({})), undefined);
  });
  it('half a credential in the mount options is a clear error', () => {
    assert.throws(() => credentialsFrom({ 'aws.accessKeyId': 'only-id' }), /set both aws\.accessKeyId and aws\.secretKey/);
  });
});

describe('S3 UFS server-side encryption', () => {
  let moto: Awaited<ReturnType<typeof startMoto>>;
  const bucket = 'sse-bucket';
  before(async () => {
    moto = await startMoto();
    await createMotoBucket(moto.endpoint, bucket);
  });
  after(async () => { await moto?.close(); });

  it('alluxio.underfs.s3.server.side.encryption.enabled=true stores objects with AES256', async () => {
    const staging = mkdtempSync(path.join(os.tmpdir(), 'alluxio-sse-'));
    const ufs = new S3UnderFileSystem(`s3://${bucket}/enc`, {
      stagingDir: staging,
      options: {
        'aws.accessKeyId': 'test', 'aws.secretKey': 'test',
        'alluxio.underfs.s3.endpoint': moto.endpoint,
        'alluxio.underfs.s3.disable.dns.buckets': 'true',
        'alluxio.underfs.s3.server.side.encryption.enabled': 'true',
      },
    });
    const body = Buffer.from('secret at rest');
    await ufs.write('k.txt', Readable.from([body]), { beforeCommit: () => ({ md5Hex: createHash('md5').update(body).digest('hex') }) });
    const direct = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const head = await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: 'enc/k.txt' }));
    assert.equal(head.ServerSideEncryption, 'AES256');
    direct.destroy();
    await ufs.close();
  });
});
