/**
 * The compat scenario with rclone (Debian package), remote type s3, provider Other (path-style,
 * ListObjects v1), configured only through RCLONE_CONFIG_* variables with an empty config file in a
 * temp dir, against one 3-worker cluster, through the keys' owner and through a non-owner.
 * rclone uploads the 100 MiB file in one PUT (its multipart cutoff is 200 MiB). It has no tagging
 * commands: tags are set with an `x-amz-tagging` upload header and read back with the JS SDK. Its
 * only in-place metadata update is `touch` (a REPLACE copy onto itself with a new mtime); it cannot
 * send Expires ("Don't know how to set key").
 */
import { describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GetObjectTaggingCommand, HeadBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  BIG_SIZE, DEFAULT_KEYS, MiB, MODES, SMALL, STEP, exec, explain, md5File, quotedMd5, readSlice, sdkError, useHarness,
  withoutFolderObjects, type ExecResult, type Plan,
} from './scenario.js';
import { rcloneEnv } from './client-config.js';

const REMOTE = 'alx';

describe('rclone scenario', () => {
  const h = useHarness('rclone');

  h.step('', STEP.installed, async () => {
    const r = await exec('rclone', ['version'], { timeoutMs: 30_000 }).catch((e: Error) => assert.fail(`rclone is required (Debian package rclone; .ci/run installs it): ${e.message}`));
    assert.equal(r.code, 0, `rclone is required (Debian package rclone; .ci/run installs it):\n${explain(r)}`);
    h.version = r.stdout.split('\n')[0].trim();
  });

  for (const mode of MODES) {
    describe(`${mode} endpoint`, () => {
      let p: Plan;
      let work: string;
      let env: NodeJS.ProcessEnv;
      let sdk: S3Client;
      before(async () => {
        p = h.plan(mode, { ...DEFAULT_KEYS, tagged: (i) => `tagged-${i}.txt` });
        work = await h.dir(`rclone-${mode}`);
        env = await rcloneEnv(work, REMOTE, p.endpoint);
        sdk = h.sdk(p.endpoint);
        console.log(p.describe());
      });

      const rclone = (args: string[], timeoutMs = 240_000): Promise<ExecResult> => exec('rclone', args, { env, timeoutMs, cwd: work });
      const ok = async (args: string[], timeoutMs?: number): Promise<ExecResult> => {
        const r = await rclone(args, timeoutMs);
        assert.ok(r.code === 0 && !r.timedOut, explain(r));
        return r;
      };
      const rem = (key = '') => `${REMOTE}:${p.bucket}${key ? `/${key}` : ''}`;
      const lsf = async (args: string[]) => (await ok(['lsf', ...args])).stdout.split('\n').filter(Boolean);
      const stat = async (key: string) => JSON.parse((await ok(['lsjson', '-M', '--stat', rem(key)])).stdout) as { Size: number; MimeType: string; ModTime: string; Metadata?: Record<string, string> };

      h.step(mode, `${STEP.mb} (mkdir)`, async () => {
        await ok(['mkdir', rem()]);
        const head = await sdk.send(new HeadBucketCommand({ Bucket: p.bucket })).catch((e: unknown) => assert.fail(`rclone mkdir made no bucket: ${sdkError(e)}`));
        assert.equal(head.$metadata.httpStatusCode, 200);
      });

      h.step(mode, `${STEP.putSmall} (copyto --header-upload -M --metadata-set)`, async () => {
        await ok(['copyto', h.smallFile, rem(p.keys.small),
          '--header-upload', `Content-Type: ${SMALL.contentType}`, '--header-upload', `Cache-Control: ${SMALL.cacheControl}`,
          '--header-upload', `Content-Disposition: ${SMALL.contentDisposition}`, '--header-upload', `Content-Encoding: ${SMALL.contentEncoding}`,
          '--header-upload', `Content-Language: ${SMALL.contentLanguage}`,
          '-M', ...Object.entries(SMALL.metadata).flatMap(([k, v]) => ['--metadata-set', `${k}=${v}`])]);
        const head = await sdk.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        assert.equal(head.ETag, quotedMd5(SMALL.body));
      });

      h.step(mode, `${STEP.putBig} (copyto: one PUT, below the 200 MiB cutoff)`, async () => {
        await ok(['copyto', h.bigFile, rem(p.keys.big)]);
        const head = await sdk.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.big }));
        assert.equal(head.ContentLength, BIG_SIZE);
        assert.equal(head.ETag, `"${h.bigMd5}"`, 'a single PUT has the MD5 as its ETag');
      });

      h.step(mode, `${STEP.listRecursive} (lsf -R --files-only)`, async () => {
        const rows = await lsf(['-R', '--files-only', '--format', 'sp', '--separator', ';', rem()]);
        const keys = rows.map((r) => r.split(';')[1]);
        assert.deepEqual(withoutFolderObjects(keys, [p.keys.small, p.keys.big]).sort(), [p.keys.small, p.keys.big].sort(), rows.join('\n'));
        assert.ok(rows.includes(`${BIG_SIZE};${p.keys.big}`), rows.join('\n'));
      });

      h.step(mode, `${STEP.listDelimiter} (lsf)`, async () => {
        const rows = await lsf([rem()]);
        assert.deepEqual(rows.sort(), [`${p.keys.big.split('/')[0]}/`, p.keys.small].sort());
      });

      h.step(mode, `${STEP.headSmall} (lsjson -M --stat)`, async () => {
        const st = await stat(p.keys.small);
        assert.equal(st.Size, SMALL.body.length);
        assert.equal(st.MimeType, SMALL.contentType);
        for (const [k, v] of Object.entries(SMALL.metadata)) assert.equal(st.Metadata?.[k], v, `metadata ${k}: ${JSON.stringify(st.Metadata)}`);
      });

      h.step(mode, `${STEP.storedHeaders.replace('/Expires', '')} (lsjson -M; rclone 1.60 cannot send Expires)`, async () => {
        const st = await stat(p.keys.small);
        const md = st.Metadata ?? {};
        assert.deepEqual({ cc: md['cache-control'], cd: md['content-disposition'], ce: md['content-encoding'], cl: md['content-language'] },
          { cc: SMALL.cacheControl, cd: SMALL.contentDisposition, ce: SMALL.contentEncoding, cl: SMALL.contentLanguage }, JSON.stringify(md));
      });

      h.step(mode, `${STEP.getSmall} (cat)`, async () => {
        const r = await ok(['cat', rem(p.keys.small)]);
        assert.ok(r.stdoutBytes.equals(SMALL.body), `rclone cat printed ${JSON.stringify(r.stdout.slice(0, 200))}`);
      });

      h.step(mode, `${STEP.getBig} (copyto)`, async () => {
        const out = path.join(work, 'big.out');
        try {
          await ok(['copyto', rem(p.keys.big), out]);
          assert.equal((await fs.stat(out)).size, BIG_SIZE);
          assert.equal(await md5File(out), h.bigMd5);
        } finally {
          await fs.rm(out, { force: true });
        }
      });

      h.step(mode, `${STEP.range} (cat --offset --count)`, async () => {
        const start = 50 * MiB + 7;
        const len = MiB + 3;
        const r = await ok(['cat', '--offset', String(start), '--count', String(len), rem(p.keys.big)]);
        assert.ok(r.stdoutBytes.equals(await readSlice(h.bigFile, start, len)), `ranged bytes differ (got ${r.stdoutBytes.length} bytes)`);
        const s = await ok(['cat', '--offset', '6', '--count', '4', rem(p.keys.small)]);
        assert.equal(s.stdout, SMALL.body.subarray(6, 10).toString());
      });

      h.step(mode, `${STEP.copy} (copyto remote to remote)`, async () => {
        const r = await ok(['copyto', '-v', rem(p.keys.small), rem(p.keys.copy)]);
        const head = await sdk.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.copy }));
        assert.equal(head.ETag, quotedMd5(SMALL.body), r.stderr);
        assert.equal(head.ContentType, SMALL.contentType);
        assert.equal(head.Metadata?.color, SMALL.metadata.color);
        assert.match(r.stderr, /Copied \(server-side copy\)/, `rclone did not copy server-side:\n${r.stderr}`);
      });

      h.step(mode, `${STEP.tagging} (x-amz-tagging upload header; read back with the JS SDK)`, async () => {
        const tagging = Object.entries(SMALL.tags).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        await ok(['copyto', h.smallFile, rem(p.keys.tagged), '--header-upload', `x-amz-tagging: ${tagging}`]);
        const got = await sdk.send(new GetObjectTaggingCommand({ Bucket: p.bucket, Key: p.keys.tagged }));
        const sort = (t: { Key?: string; Value?: string }[]) => t.map((x) => `${x.Key}=${x.Value}`).sort();
        assert.deepEqual(sort(got.TagSet ?? []), sort(Object.entries(SMALL.tags).map(([Key, Value]) => ({ Key, Value }))));
      });

      h.step(mode, 'set metadata (touch -t: REPLACE copy onto itself with a new x-amz-meta-mtime) and read it back (lsjson -M)', async () => {
        // rclone 1.60 sends a server-side copy with X-Amz-Metadata-Directive: COPY even with
        // --metadata-set; its in-place metadata update is SetModTime (touch), which re-sends the
        // object's metadata with the new mtime under REPLACE.
        const when = '2030-01-02T03:04:05Z';
        await ok(['touch', '-t', when.slice(0, -1), rem(p.keys.small)]);
        const st = await stat(p.keys.small);
        assert.equal(st.ModTime.replace(/\.0+Z$/, 'Z'), when, JSON.stringify(st));
        assert.equal(st.Metadata?.mtime, when, JSON.stringify(st.Metadata));
        assert.equal(st.MimeType, SMALL.contentType, 'the content type survives the REPLACE copy');
        for (const [k, v] of Object.entries(SMALL.metadata)) assert.equal(st.Metadata?.[k], v, `metadata ${k} survives the REPLACE copy: ${JSON.stringify(st.Metadata)}`);
        const head = await sdk.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        assert.equal(head.ETag, quotedMd5(SMALL.body), 'the bytes are unchanged');
      });

      h.step(mode, `${STEP.deleteMany} (delete)`, async () => {
        await ok(['delete', rem()]);
        const rows = await lsf(['-R', rem()]);
        assert.deepEqual(rows, [], 'left after rclone delete');
      });

      h.step(mode, `${STEP.rb} (rmdir)`, async () => {
        await ok(['rmdir', rem()]);
        const err = await sdk.send(new HeadBucketCommand({ Bucket: p.bucket })).then(() => undefined, (e: unknown) => e);
        assert.ok(err, 'the bucket still exists after rclone rmdir');
        assert.match(sdkError(err), /^404/);
      });
    });
  }
});
