/**
 * The compat scenario with an AWS CLI (v1 or v2; see awscli-v1.test.ts and awscli-v2.test.ts):
 * `aws s3` for the bucket, the 100 MiB transfer (s3transfer: 8 MiB multipart), listings and
 * copies (CopyObject; UploadPartCopy for the 100 MiB copy), `aws s3api` for everything the high-level
 * commands cannot say (metadata, standard headers, ranges, tagging, DeleteObjects).
 * The CLI runs with an empty HOME and config files, so no user setting changes what it sends.
 */
import { describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BIG_SIZE, DEFAULT_KEYS, MiB, MODES, SMALL, STEP, exec, explain, md5File, multipartEtag, quotedMd5, readSlice, useHarness,
  withoutFolderObjects, type ExecResult, type Harness, type Plan,
} from './scenario.js';

/** The AWS CLI v2 of the Debian package; `aws` on PATH may be v1 (pyenv), so v2 is called by this path. */
export const AWS_V2 = '/usr/bin/aws';

export interface AwsCli {
  cmd: string;
  /** Arguments before the CLI's own (e.g. ['-m', 'awscli'] for python3). */
  pre: string[];
  version: string;
}

/** An empty, private configuration: nothing from the user's environment changes what the CLI sends. */
export async function awsEnv(dir: string): Promise<NodeJS.ProcessEnv> {
  const home = path.join(dir, 'home');
  await fs.mkdir(home, { recursive: true });
  await fs.writeFile(path.join(dir, 'config'), '');
  await fs.writeFile(path.join(dir, 'credentials'), '');
  return {
    HOME: home,
    AWS_CONFIG_FILE: path.join(dir, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
    AWS_CLI_AUTO_PROMPT: 'off',
    AWS_PROFILE: undefined,
    AWS_DEFAULT_PROFILE: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_REGION: undefined,
    AWS_ENDPOINT_URL: undefined,
    AWS_ENDPOINT_URL_S3: undefined,
    AWS_CA_BUNDLE: undefined,
    AWS_REQUEST_CHECKSUM_CALCULATION: undefined,
    AWS_RESPONSE_CHECKSUM_VALIDATION: undefined,
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

/** Runs the CLI against an endpoint, bounded in time. */
export function runAws(cli: AwsCli, env: NodeJS.ProcessEnv, endpoint: string, args: string[], cwd: string, timeoutMs = 240_000): Promise<ExecResult> {
  return exec(cli.cmd, [...cli.pre, '--endpoint-url', endpoint, ...args], { env, timeoutMs, cwd });
}

interface Head {
  ContentLength?: number; ContentType?: string; ETag?: string; Metadata?: Record<string, string>;
  CacheControl?: string; ContentDisposition?: string; ContentEncoding?: string; ContentLanguage?: string; Expires?: string;
}

/**
 * Registers the whole scenario for one AWS CLI (both runs). `resolve` finds the CLI and its version
 * and throws a clear message when it is missing or the wrong major version. `extra` may add more
 * tests that share the harness (after the scenario).
 */
export function awsCliScenario(client: 'awscli-v1' | 'awscli-v2', major: 1 | 2, resolve: () => Promise<AwsCli>, extra?: (h: Harness, cli: () => { cli: AwsCli; env: NodeJS.ProcessEnv }) => void): void {
  describe(`AWS CLI v${major} scenario`, () => {
    const h = useHarness(client);
    let cli: AwsCli | undefined;
    let env: NodeJS.ProcessEnv = {};

    before(async () => {
      env = await awsEnv(await h.dir('aws-config'));
    });

    h.step('', STEP.installed, async () => {
      cli = await resolve();
      h.version = cli.version;
      assert.match(cli.version, new RegExp(`^aws-cli/${major}\\.`), `not an AWS CLI v${major}: ${cli.version}`);
    });

    for (const mode of MODES) {
      describe(`${mode} endpoint`, () => {
        let p: Plan;
        let work: string;
        before(async () => {
          p = h.plan(mode, { ...DEFAULT_KEYS, bigCopy: (i) => `copies/big-copy-${i}.bin` });
          work = await h.dir(`work-${mode}`);
          console.log(p.describe());
        });

        const aws = (args: string[], timeoutMs?: number): Promise<ExecResult> => {
          assert.ok(cli, `the AWS CLI v${major} was not found (see the first test)`);
          return runAws(cli, env, p.endpoint, args, work, timeoutMs);
        };
        const ok = async (args: string[], timeoutMs?: number): Promise<ExecResult> => {
          const r = await aws(args, timeoutMs);
          assert.ok(r.code === 0 && !r.timedOut, explain(r));
          return r;
        };
        const json = async <T>(args: string[]): Promise<T> => {
          const r = await ok([...args, '--output', 'json']);
          try {
            return (r.stdout.trim() ? JSON.parse(r.stdout) : {}) as T;
          } catch {
            throw new Error(`no JSON from the CLI:\n${explain(r)}`);
          }
        };
        const head = (key: string) => json<Head>(['s3api', 'head-object', '--bucket', p.bucket, '--key', key]);
        const s3uri = (key = '') => `s3://${p.bucket}/${key}`;

        h.step(mode, STEP.mb, async () => {
          const r = await ok(['s3', 'mb', `s3://${p.bucket}`]);
          assert.match(r.stdout, new RegExp(`make_bucket: ${p.bucket}`));
        });

        h.step(mode, STEP.putSmall, async () => {
          const res = await json<{ ETag: string }>(['s3api', 'put-object', '--bucket', p.bucket, '--key', p.keys.small, '--body', h.smallFile,
            '--content-type', SMALL.contentType, '--metadata', Object.entries(SMALL.metadata).map(([k, v]) => `${k}=${v}`).join(','),
            '--cache-control', SMALL.cacheControl, '--content-disposition', SMALL.contentDisposition, '--content-encoding', SMALL.contentEncoding,
            '--content-language', SMALL.contentLanguage, '--expires', new Date(SMALL.expires).toISOString()]);
          assert.equal(res.ETag, quotedMd5(SMALL.body), 'put-object ETag');
        });

        h.step(mode, `${STEP.putBig} (s3 cp: 8 MiB multipart)`, async () => {
          await ok(['s3', 'cp', h.bigFile, s3uri(p.keys.big)]);
          const hd = await head(p.keys.big);
          assert.equal(hd.ContentLength, BIG_SIZE);
          assert.equal(hd.ETag, await multipartEtag(h.bigFile, 8 * MiB), 'multipart ETag of 8 MiB parts');
        });

        h.step(mode, `${STEP.listRecursive} (s3 ls --recursive)`, async () => {
          const r = await ok(['s3', 'ls', '--recursive', `s3://${p.bucket}`]);
          const rows = r.stdout.trim().split('\n').filter(Boolean).map((l) => /^\S+ \S+\s+(\d+) (.*)$/.exec(l)).map((m) => {
            assert.ok(m, `unparsable s3 ls line:\n${r.stdout}`);
            return { size: Number(m[1]), key: m[2] };
          });
          const keys = rows.map((x) => x.key);
          assert.deepEqual(withoutFolderObjects(keys, [p.keys.small, p.keys.big]).sort(), [p.keys.small, p.keys.big].sort(), r.stdout);
          assert.equal(rows.find((x) => x.key === p.keys.big)?.size, BIG_SIZE, r.stdout);
        });

        h.step(mode, `${STEP.listDelimiter} (s3 ls; s3api list-objects-v2 --delimiter /)`, async () => {
          const r = await ok(['s3', 'ls', `s3://${p.bucket}/`]);
          const dir = `${p.keys.big.split('/')[0]}/`;
          assert.match(r.stdout, new RegExp(`^\\s*PRE ${dir}$`, 'm'), r.stdout);
          assert.match(r.stdout, new RegExp(`\\s${SMALL.body.length} ${p.keys.small.replace(/[.]/g, '\\.')}$`, 'm'), r.stdout);
          assert.equal(r.stdout.trim().split('\n').length, 2, `s3 ls shows more than ${dir} and ${p.keys.small}:\n${r.stdout}`);
          const l = await json<{ Contents?: { Key: string }[]; CommonPrefixes?: { Prefix: string }[] }>(['s3api', 'list-objects-v2', '--bucket', p.bucket, '--delimiter', '/']);
          assert.deepEqual({ keys: (l.Contents ?? []).map((o) => o.Key), prefixes: (l.CommonPrefixes ?? []).map((x) => x.Prefix) }, { keys: [p.keys.small], prefixes: [dir] });
        });

        h.step(mode, STEP.headSmall, async () => {
          const hd = await head(p.keys.small);
          assert.deepEqual({ ContentType: hd.ContentType, Metadata: hd.Metadata, ContentLength: hd.ContentLength, ETag: hd.ETag },
            { ContentType: SMALL.contentType, Metadata: SMALL.metadata, ContentLength: SMALL.body.length, ETag: quotedMd5(SMALL.body) });
        });

        h.step(mode, STEP.storedHeaders, async () => {
          const hd = await head(p.keys.small);
          assert.deepEqual({
            CacheControl: hd.CacheControl, ContentDisposition: hd.ContentDisposition, ContentEncoding: hd.ContentEncoding, ContentLanguage: hd.ContentLanguage,
            Expires: hd.Expires === undefined ? undefined : new Date(hd.Expires).toUTCString(),
          }, {
            CacheControl: SMALL.cacheControl, ContentDisposition: SMALL.contentDisposition, ContentEncoding: SMALL.contentEncoding, ContentLanguage: SMALL.contentLanguage,
            Expires: SMALL.expires,
          });
        });

        h.step(mode, `${STEP.getSmall} (s3api get-object)`, async () => {
          const out = path.join(work, 'small.out');
          const res = await json<Head>(['s3api', 'get-object', '--bucket', p.bucket, '--key', p.keys.small, out]);
          assert.ok((await fs.readFile(out)).equals(SMALL.body), 'bytes');
          assert.deepEqual({ ContentType: res.ContentType, Metadata: res.Metadata }, { ContentType: SMALL.contentType, Metadata: SMALL.metadata });
        });

        h.step(mode, `${STEP.getBig} (s3 cp)`, async () => {
          const out = path.join(work, 'big.out');
          try {
            await ok(['s3', 'cp', s3uri(p.keys.big), out]);
            assert.equal((await fs.stat(out)).size, BIG_SIZE, 'size of the download');
            assert.equal(await md5File(out), h.bigMd5, 'md5 of the download');
          } finally {
            await fs.rm(out, { force: true });
          }
          const hd = await head(p.keys.big);
          assert.match(hd.ETag ?? '', /^"[0-9a-f]{32}-13"$/, 'multipart ETag form');
        });

        h.step(mode, `${STEP.range} (s3api get-object --range)`, async () => {
          const out = path.join(work, 'range.out');
          const r1 = await json<{ ContentRange: string }>(['s3api', 'get-object', '--bucket', p.bucket, '--key', p.keys.small, '--range', 'bytes=6-9', out]);
          assert.equal(r1.ContentRange, `bytes 6-9/${SMALL.body.length}`);
          assert.ok((await fs.readFile(out)).equals(SMALL.body.subarray(6, 10)), 'small range bytes');
          const start = 50 * MiB + 7;
          const len = MiB + 3;
          const r2 = await json<{ ContentRange: string }>(['s3api', 'get-object', '--bucket', p.bucket, '--key', p.keys.big, '--range', `bytes=${start}-${start + len - 1}`, out]);
          assert.equal(r2.ContentRange, `bytes ${start}-${start + len - 1}/${BIG_SIZE}`);
          assert.ok((await fs.readFile(out)).equals(await readSlice(h.bigFile, start, len)), 'big range bytes');
        });

        h.step(mode, `${STEP.copy} (s3 cp s3:// s3://)`, async () => {
          await ok(['s3', 'cp', s3uri(p.keys.small), s3uri(p.keys.copy)]);
          const hd = await head(p.keys.copy);
          assert.deepEqual({ ETag: hd.ETag, ContentType: hd.ContentType, Metadata: hd.Metadata }, { ETag: quotedMd5(SMALL.body), ContentType: SMALL.contentType, Metadata: SMALL.metadata });
        });

        h.step(mode, `${STEP.copyBig} (s3 cp s3:// s3://)`, async () => {
          await ok(['s3', 'cp', s3uri(p.keys.big), s3uri(p.keys.bigCopy)]);
          const hd = await head(p.keys.bigCopy);
          assert.equal(hd.ContentLength, BIG_SIZE);
          assert.match(hd.ETag ?? '', /^"[0-9a-f]{32}-\d+"$/, 'multipart ETag form of the copy');
          const onDisk = h.ufsPath(p.bucket, p.keys.bigCopy);
          assert.equal(await md5File(onDisk), h.bigMd5, `md5 of the copy in the UFS (${onDisk})`);
        });

        h.step(mode, `${STEP.tagging} (s3api put/get-object-tagging)`, async () => {
          const TagSet = Object.entries(SMALL.tags).map(([Key, Value]) => ({ Key, Value }));
          await ok(['s3api', 'put-object-tagging', '--bucket', p.bucket, '--key', p.keys.small, '--tagging', JSON.stringify({ TagSet })]);
          const got = await json<{ TagSet: { Key: string; Value: string }[] }>(['s3api', 'get-object-tagging', '--bucket', p.bucket, '--key', p.keys.small]);
          const sort = (t: { Key: string; Value: string }[]) => [...t].sort((a, b) => a.Key.localeCompare(b.Key));
          assert.deepEqual(sort(got.TagSet ?? []), sort(TagSet));
        });

        h.step(mode, `${STEP.metadata} (s3api copy-object --metadata-directive REPLACE)`, async () => {
          await ok(['s3api', 'copy-object', '--bucket', p.bucket, '--key', p.keys.small, '--copy-source', `${p.bucket}/${p.keys.small}`,
            '--metadata-directive', 'REPLACE', '--metadata', JSON.stringify(SMALL.newMetadata), '--content-type', SMALL.newContentType]);
          const hd = await head(p.keys.small);
          assert.deepEqual({ ContentType: hd.ContentType, Metadata: hd.Metadata, ETag: hd.ETag }, { ContentType: SMALL.newContentType, Metadata: SMALL.newMetadata, ETag: quotedMd5(SMALL.body) });
        });

        h.step(mode, `${STEP.deleteMany} (s3api delete-objects)`, async () => {
          const keys = [p.keys.small, p.keys.big, p.keys.copy, p.keys.bigCopy];
          const res = await json<{ Deleted?: { Key: string }[]; Errors?: unknown[] }>(['s3api', 'delete-objects', '--bucket', p.bucket, '--delete', JSON.stringify({ Objects: keys.map((Key) => ({ Key })) })]);
          assert.deepEqual(res.Errors ?? [], [], 'Errors');
          assert.deepEqual((res.Deleted ?? []).map((d) => d.Key).sort(), [...keys].sort(), 'Deleted');
          const left = await aws(['s3', 'ls', '--recursive', `s3://${p.bucket}`]);
          // `aws s3 ls` exits 1 when it lists nothing; either way nothing may be listed.
          assert.ok(left.code === 0 || left.code === 1, explain(left));
          assert.equal(left.stdout.trim(), '', `objects left after delete-objects:\n${left.stdout}`);
        });

        h.step(mode, `${STEP.rb} (s3 rb)`, async () => {
          await ok(['s3', 'rb', `s3://${p.bucket}`]);
          assert.ok(!existsSync(path.join(h.cluster.ufsRoot, p.bucket)), 'the bucket directory is still in the UFS');
          const r = await aws(['s3', 'ls', `s3://${p.bucket}`]);
          assert.notEqual(r.code, 0, 's3 ls of a removed bucket succeeded');
          assert.match(r.stderr, /NoSuchBucket/, r.stderr);
        });
      });
    }

    extra?.(h, () => {
      assert.ok(cli, `the AWS CLI v${major} was not found (see the first test)`);
      return { cli, env };
    });
  });
}

/** `<cmd> [...pre] --version`, or undefined when it cannot run. */
export async function awsVersion(cmd: string, pre: string[] = []): Promise<string | undefined> {
  const r = await exec(cmd, [...pre, '--version'], { timeoutMs: 60_000, env: { AWS_CONFIG_FILE: '/dev/null' } }).catch(() => undefined);
  if (!r || r.code !== 0) return undefined;
  const m = /aws-cli\/\S+/.exec(r.stdout + r.stderr);
  return m ? (r.stdout + r.stderr).trim().split('\n')[0] : undefined;
}
