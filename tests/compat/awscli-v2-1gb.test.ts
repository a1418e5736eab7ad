/**
 * A 1 GiB upload and download with the AWS CLI v2 (/usr/bin/aws, default settings: s3transfer's
 * 8 MiB multipart, 10 concurrent requests) through a worker that does not own the key (every part
 * is proxied to the owner). The file is cheap to make: one random 1 MiB block repeated, each copy
 * stamped with its index (so a misplaced part changes the MD5). Checks: the download is
 * byte-identical (MD5), and the object's ETag is the multipart ETag of 128 parts of 8 MiB.
 */
import { describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AWS_V2, awsEnv, awsVersion, runAws, type AwsCli } from './awscli-scenario.js';
import { MiB, STEP, explain, md5File, multipartEtag, useHarness, writeStampedFile, type ExecResult, type Plan } from './scenario.js';

const SIZE = 1024 * MiB;
const PART = 8 * MiB;

describe('AWS CLI v2: 1 GiB upload and download', () => {
  const h = useHarness('awscli-v2-1gb', { bigSize: 0 });
  let cli: AwsCli | undefined;
  let env: NodeJS.ProcessEnv;
  let p: Plan;
  let src = '';
  let srcMd5 = '';
  let work = '';

  before(async () => {
    env = await awsEnv(await h.dir('aws-config'));
    p = h.plan('non-owner', { big: (i) => `large/one-gib-${i}.bin` });
    work = await h.dir('work');
    console.log(p.describe());
  });

  const ok = async (args: string[], timeoutMs = 480_000): Promise<ExecResult> => {
    assert.ok(cli, 'the AWS CLI v2 was not found (see the first test)');
    const r = await runAws(cli, env, p.endpoint, args, work, timeoutMs);
    assert.ok(r.code === 0 && !r.timedOut, explain(r));
    return r;
  };

  h.step('', STEP.installed, async () => {
    const version = await awsVersion(AWS_V2);
    assert.ok(version, `the AWS CLI v2 is required at ${AWS_V2} (Debian package awscli; .ci/run installs it)`);
    assert.match(version, /^aws-cli\/2\./, `${AWS_V2} is not the AWS CLI v2: ${version}`);
    cli = { cmd: AWS_V2, pre: [], version };
    h.version = version;
  });

  h.step('', 'make a 1 GiB file (a stamped random 1 MiB block)', async () => {
    src = path.join(work, 'one-gib.bin');
    srcMd5 = await writeStampedFile(src, SIZE);
  });

  h.step('', STEP.mb, async () => {
    await ok(['s3', 'mb', `s3://${p.bucket}`]);
  });

  h.step('', 'upload 1 GiB (s3 cp, default settings) through a non-owner', async () => {
    await ok(['s3', 'cp', src, `s3://${p.bucket}/${p.keys.big}`]);
    const st = await fs.stat(h.ufsPath(p.bucket, p.keys.big)).catch((e: Error) => assert.fail(`the object is not in the UFS: ${e.message}`));
    assert.equal(st.size, SIZE, 'size in the UFS');
  }, 540_000);

  h.step('', 'the object has the multipart ETag of 128 parts of 8 MiB', async () => {
    const r = await ok(['s3api', 'head-object', '--bucket', p.bucket, '--key', p.keys.big, '--output', 'json']);
    const head = JSON.parse(r.stdout) as { ContentLength: number; ETag: string };
    assert.equal(head.ContentLength, SIZE);
    assert.match(head.ETag, /^"[0-9a-f]{32}-128"$/, 'ETag form "<md5 of part md5s>-128"');
    assert.equal(head.ETag, await multipartEtag(src, PART));
  });

  h.step('', 'download 1 GiB (s3 cp) through a non-owner: byte-identical (md5)', async () => {
    const out = path.join(work, 'one-gib.out');
    try {
      await ok(['s3', 'cp', `s3://${p.bucket}/${p.keys.big}`, out]);
      assert.equal((await fs.stat(out)).size, SIZE);
      assert.equal(await md5File(out), srcMd5);
    } finally {
      await fs.rm(out, { force: true });
    }
  }, 540_000);

  h.step('', 'remove the object and the bucket', async () => {
    await ok(['s3', 'rm', `s3://${p.bucket}/${p.keys.big}`]);
    await ok(['s3', 'rb', `s3://${p.bucket}`]);
    if (src) await fs.rm(src, { force: true });
  });
});
