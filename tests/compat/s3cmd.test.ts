/**
 * The compat scenario with s3cmd (Debian package), path-style (`host_bucket` = `host_base`,
 * no `%(bucket)s`), SigV4, http, against one 3-worker cluster, through the keys' owner and through
 * a non-owner. The config lives in a temp dir (`-c`), HOME too, so no user setting leaks in.
 * s3cmd 2.3.0 has no ranged get option and no tagging commands: the range step uses
 * `get --continue` (which resumes a partial file with `Range: bytes=N-`), and tags are set with an
 * `x-amz-tagging` header on put and read back with the JS SDK.
 */
import { describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GetObjectTaggingCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  BIG_SIZE, DEFAULT_KEYS, MiB, MODES, SMALL, STEP, exec, explain, md5File, multipartEtag, quotedMd5, readSlice, useHarness,
  withoutFolderObjects, type ExecResult, type Plan,
} from './scenario.js';
import { writeS3cmdConfig } from './client-config.js';

const PART = 15 * MiB; // s3cmd's default multipart_chunk_size_mb

describe('s3cmd scenario', () => {
  const h = useHarness('s3cmd');

  h.step('', STEP.installed, async () => {
    const r = await exec('s3cmd', ['--version'], { timeoutMs: 30_000 }).catch((e: Error) => assert.fail(`s3cmd is required (Debian package s3cmd; .ci/run installs it): ${e.message}`));
    assert.equal(r.code, 0, `s3cmd is required (Debian package s3cmd; .ci/run installs it):\n${explain(r)}`);
    h.version = r.stdout.trim();
  });

  for (const mode of MODES) {
    describe(`${mode} endpoint`, () => {
      let p: Plan;
      let work: string;
      let cfg: string;
      let sdk: S3Client;
      before(async () => {
        p = h.plan(mode, { ...DEFAULT_KEYS, tagged: (i) => `tagged-${i}.txt` });
        work = await h.dir(`s3cmd-${mode}`);
        cfg = await writeS3cmdConfig(work, p.host, p.port);
        sdk = h.sdk(p.endpoint);
        console.log(p.describe());
      });

      const s3cmd = (args: string[], timeoutMs = 240_000): Promise<ExecResult> =>
        exec('s3cmd', ['-c', cfg, ...args], { env: { HOME: work }, timeoutMs, cwd: work });
      const ok = async (args: string[], timeoutMs?: number): Promise<ExecResult> => {
        const r = await s3cmd(args, timeoutMs);
        assert.ok(r.code === 0 && !r.timedOut, explain(r));
        return r;
      };
      const uri = (key = '') => `s3://${p.bucket}/${key}`;
      /** `s3cmd ls` lines: [size or DIR, s3:// uri]. */
      const ls = async (args: string[]) => (await ok(['ls', ...args])).stdout.trim().split('\n').filter(Boolean).map((l) => {
        const m = /^(?:\S+ \S+\s+)?(\S+)\s+(s3:\/\/.*)$/.exec(l.trim());
        assert.ok(m, `unparsable s3cmd ls line: ${l}`);
        return { size: m[1], key: m[2].slice(`s3://${p.bucket}/`.length) };
      });

      h.step(mode, STEP.mb, async () => {
        const r = await ok(['mb', uri()]);
        assert.match(r.stdout, /created/, r.stdout);
      });

      h.step(mode, `${STEP.putSmall} (--mime-type, --add-header)`, async () => {
        await ok(['put', h.smallFile, uri(p.keys.small), `--mime-type=${SMALL.contentType}`,
          ...Object.entries(SMALL.metadata).map(([k, v]) => `--add-header=x-amz-meta-${k}:${v}`),
          `--add-header=Cache-Control:${SMALL.cacheControl}`, `--add-header=Content-Disposition:${SMALL.contentDisposition}`,
          `--add-header=Content-Encoding:${SMALL.contentEncoding}`, `--add-header=Content-Language:${SMALL.contentLanguage}`,
          `--add-header=Expires:${SMALL.expires}`]);
        const head = await sdk.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        assert.equal(head.ETag, quotedMd5(SMALL.body));
      });

      h.step(mode, `${STEP.putBig} (put: 15 MiB multipart)`, async () => {
        await ok(['put', h.bigFile, uri(p.keys.big)]);
        const head = await sdk.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.big }));
        assert.equal(head.ContentLength, BIG_SIZE);
        assert.equal(head.ETag, await multipartEtag(h.bigFile, PART), 'multipart ETag of 15 MiB parts');
      });

      h.step(mode, `${STEP.listRecursive} (ls -r)`, async () => {
        const rows = await ls(['-r', uri()]);
        const keys = rows.map((r) => r.key);
        assert.deepEqual(withoutFolderObjects(keys, [p.keys.small, p.keys.big]).sort(), [p.keys.small, p.keys.big].sort(), JSON.stringify(rows));
        assert.equal(rows.find((r) => r.key === p.keys.big)?.size, String(BIG_SIZE));
      });

      h.step(mode, `${STEP.listDelimiter} (ls)`, async () => {
        const rows = await ls([uri()]);
        assert.deepEqual(rows.map((r) => `${r.size === 'DIR' ? 'DIR' : 'FILE'} ${r.key}`).sort(), [`DIR ${p.keys.big.split('/')[0]}/`, `FILE ${p.keys.small}`].sort());
      });

      h.step(mode, `${STEP.headSmall} (info)`, async () => {
        const r = await ok(['info', uri(p.keys.small)]);
        assert.match(r.stdout, new RegExp(`MIME type:\\s*${SMALL.contentType}`), r.stdout);
        for (const [k, v] of Object.entries(SMALL.metadata)) assert.match(r.stdout, new RegExp(`x-amz-meta-${k}:\\s*${v}`), r.stdout);
        assert.match(r.stdout, new RegExp(`MD5 sum:\\s*${quotedMd5(SMALL.body).slice(1, -1)}`), r.stdout);
      });

      h.step(mode, `${STEP.storedHeaders} (read with the JS SDK)`, async () => {
        const head = await sdk.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.small }));
        assert.deepEqual({ CacheControl: head.CacheControl, ContentDisposition: head.ContentDisposition, ContentEncoding: head.ContentEncoding, ContentLanguage: head.ContentLanguage, Expires: head.ExpiresString },
          { CacheControl: SMALL.cacheControl, ContentDisposition: SMALL.contentDisposition, ContentEncoding: SMALL.contentEncoding, ContentLanguage: SMALL.contentLanguage, Expires: SMALL.expires });
      });

      h.step(mode, `${STEP.getSmall} (get)`, async () => {
        const out = path.join(work, 'small.out');
        await ok(['get', '--force', uri(p.keys.small), out]);
        assert.ok((await fs.readFile(out)).equals(SMALL.body));
      });

      h.step(mode, `${STEP.getBig} (get)`, async () => {
        const out = path.join(work, 'big.out');
        try {
          await ok(['get', '--force', uri(p.keys.big), out]);
          assert.equal((await fs.stat(out)).size, BIG_SIZE);
          assert.equal(await md5File(out), h.bigMd5);
        } finally {
          await fs.rm(out, { force: true });
        }
      });

      h.step(mode, `${STEP.range} (get --continue: Range bytes=N-)`, async () => {
        const out = path.join(work, 'partial.out');
        const have = 60 * MiB + 5;
        try {
          await fs.writeFile(out, await readSlice(h.bigFile, 0, have));
          const r = await ok(['get', '--continue', uri(p.keys.big), out]);
          assert.equal((await fs.stat(out)).size, BIG_SIZE, `size after get --continue:\n${r.stdout}${r.stderr}`);
          assert.equal(await md5File(out), h.bigMd5, 'md5 after get --continue');
        } finally {
          await fs.rm(out, { force: true });
        }
      });

      h.step(mode, `${STEP.copy} (cp)`, async () => {
        await ok(['cp', uri(p.keys.small), uri(p.keys.copy)]);
        const head = await sdk.send(new HeadObjectCommand({ Bucket: p.bucket, Key: p.keys.copy }));
        assert.equal(head.ETag, quotedMd5(SMALL.body));
        assert.equal(head.ContentType, SMALL.contentType);
        assert.equal(head.Metadata?.color, SMALL.metadata.color);
      });

      h.step(mode, `${STEP.tagging} (x-amz-tagging on put; read back with the JS SDK)`, async () => {
        const tagging = Object.entries(SMALL.tags).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        await ok(['put', h.smallFile, uri(p.keys.tagged), `--add-header=x-amz-tagging:${tagging}`]);
        const got = await sdk.send(new GetObjectTaggingCommand({ Bucket: p.bucket, Key: p.keys.tagged }));
        const sort = (t: { Key?: string; Value?: string }[]) => t.map((x) => `${x.Key}=${x.Value}`).sort();
        assert.deepEqual(sort(got.TagSet ?? []), sort(Object.entries(SMALL.tags).map(([Key, Value]) => ({ Key, Value }))));
      });

      h.step(mode, `${STEP.metadata} (modify --add-header; info)`, async () => {
        await ok(['modify', `--add-header=x-amz-meta-color:${SMALL.newMetadata.color}`, `--mime-type=${SMALL.newContentType}`, uri(p.keys.small)]);
        const r = await ok(['info', uri(p.keys.small)]);
        assert.match(r.stdout, new RegExp(`x-amz-meta-color:\\s*${SMALL.newMetadata.color}`), r.stdout);
        assert.match(r.stdout, new RegExp(`MIME type:\\s*${SMALL.newContentType}`), r.stdout);
      });

      h.step(mode, `${STEP.deleteMany} (del with several URIs)`, async () => {
        const keys = [p.keys.small, p.keys.big, p.keys.copy, p.keys.tagged];
        await ok(['del', ...keys.map((k) => uri(k))]);
        const rows = await ls(['-r', uri()]);
        assert.deepEqual(rows, [], 'objects left after del');
      });

      h.step(mode, `${STEP.rb} (rb)`, async () => {
        const r = await ok(['rb', uri()]);
        assert.match(r.stdout, /removed/, r.stdout);
      });
    });
  }
});
