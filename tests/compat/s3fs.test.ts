/**
 * The compat scenario with s3fs-fuse (Debian package s3fs; needs /dev/fuse), mounted with
 * `-o use_path_request_style,url=<endpoint>,passwd_file=<file>` and otherwise default options
 * (SigV4, 10 MiB multipart parts, no local cache), against one 3-worker cluster, through the keys'
 * owner and through a non-owner. Files are read and written by child processes (cp, find, ls,
 * md5sum, dd, mv, chmod, rm), each bounded in time; s3fs runs in the foreground (`-f`) as our
 * child so it can always be stopped, and every mount is undone in an `after` hook.
 *
 * s3fs cannot make or remove buckets (the JS SDK does those), has no tags, and sets no user
 * metadata of ours: the small object gets its type from /etc/mime.types and s3fs's own
 * x-amz-meta-{mode,mtime,uid,gid}; "set metadata" is a chmod (a REPLACE copy onto itself);
 * the server-side copy is a rename (`mv`: CopyObject + DeleteObject).
 */
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { waitFor } from '../helpers/ports.js';
import {
  BIG_SIZE, MiB, MODES, SMALL, STEP, exec, explain, md5File, quotedMd5, readSlice, sdkError, useHarness, type ExecResult, type Plan,
} from './scenario.js';

/** Mount points currently mounted (from /proc/self/mountinfo; spaces there are \040). */
function mounted(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4]?.replace(/\\040/g, ' ') === dir);
}

describe('s3fs scenario', () => {
  const h = useHarness('s3fs');

  h.step('', `${STEP.installed}; /dev/fuse exists`, async () => {
    const r = await exec('s3fs', ['--version'], { timeoutMs: 30_000 }).catch((e: Error) => assert.fail(`s3fs is required (Debian package s3fs; .ci/run installs it): ${e.message}`));
    assert.equal(r.code, 0, `s3fs is required (Debian package s3fs; .ci/run installs it):\n${explain(r)}`);
    h.version = r.stdout.split('\n')[0].trim();
    assert.ok(existsSync('/dev/fuse'), '/dev/fuse does not exist: s3fs cannot mount on this machine');
    const fm = await exec('sh', ['-c', 'command -v fusermount || command -v fusermount3'], { timeoutMs: 10_000 });
    assert.equal(fm.code, 0, 'fusermount (Debian package fuse3) is required to unmount');
  });

  for (const mode of MODES) {
    describe(`${mode} endpoint`, () => {
      let p: Plan;
      let sdk: S3Client;
      let work: string;
      let mnt: string;
      let proc: ChildProcess | undefined;
      let s3fsLog = '';
      /** The log lines that report an error (an HTTP status other than 2xx/404, [ERR], [WAN]), each with the lines before it. */
      const s3fsErrors = (): string => {
        const lines = s3fsLog.split('\n');
        const out: string[] = [];
        lines.forEach((l, i) => {
          const code = /HTTP response code (\d+)/.exec(l)?.[1];
          if ((code && !code.startsWith('2') && code !== '404') || /\[(ERR|WAN)\]/.test(l)) out.push(...lines.slice(Math.max(0, i - 4), i + 1), '');
        });
        return out.join('\n').slice(-4000) || '(none)';
      };
      const exited = () => !proc || proc.exitCode !== null || proc.signalCode !== null;

      before(async () => {
        p = h.plan(mode, { big: (i) => `big/blob-${i}.bin`, small: (i) => `hello-${i}.txt`, copy: (i) => `copies/hello-copy-${i}.txt`, tmpCopy: (i) => `copies/tmp-${i}.txt` });
        sdk = h.sdk(p.endpoint);
        work = await h.dir(`s3fs-${mode}`);
        mnt = path.join(work, 'mnt');
        await fs.mkdir(mnt);
        console.log(p.describe());
      });

      async function unmount(): Promise<void> {
        if (mnt && mounted(mnt)) {
          const r = await exec('fusermount', ['-u', mnt], { timeoutMs: 30_000 }).catch(() => undefined);
          if (!r || r.code !== 0) await exec('umount', ['-l', mnt], { timeoutMs: 30_000 }).catch(() => undefined);
        }
        if (!exited()) {
          const done = new Promise((r) => proc!.once('exit', r));
          const t = setTimeout(() => proc?.kill('SIGKILL'), 10_000);
          proc!.kill('SIGTERM');
          await done;
          clearTimeout(t);
        }
      }
      after(async () => {
        await unmount();
        if (mnt && mounted(mnt)) await exec('fusermount', ['-u', '-z', mnt], { timeoutMs: 30_000 }).catch(() => undefined);
      });

      /** A command on the mount; `cwd` is the mount point. */
      const sh = (cmd: string, args: string[], timeoutMs = 240_000): Promise<ExecResult> => exec(cmd, args, { cwd: mnt, timeoutMs });
      const ok = async (cmd: string, args: string[], timeoutMs?: number): Promise<ExecResult> => {
        // Without the mount, commands would silently work on the empty local directory.
        assert.ok(mounted(mnt), `${mnt} is not mounted (see the mount step)${exited() ? `; s3fs exited: ${s3fsLog.slice(-2000)}` : ''}`);
        s3fsLog = ''; // so a failure shows what s3fs logged during this command only
        const r = await sh(cmd, args, timeoutMs);
        assert.ok(r.code === 0 && !r.timedOut, `${explain(r)}\n--- s3fs log (errors and the requests that got them)\n${s3fsErrors()}`);
        return r;
      };
      const m = (key: string) => path.join(mnt, ...key.split('/'));
      const headOf = (key: string) => sdk.send(new HeadObjectCommand({ Bucket: p.bucket, Key: key }));

      h.step(mode, `${STEP.mb} (JS SDK: s3fs cannot)`, async () => {
        await sdk.send(new CreateBucketCommand({ Bucket: p.bucket }));
        await sdk.send(new HeadBucketCommand({ Bucket: p.bucket }));
      });

      h.step(mode, 'mount the bucket (s3fs -f -o use_path_request_style,url=...,passwd_file=...)', async () => {
        const pw = path.join(work, 'passwd');
        await fs.writeFile(pw, 'test:test\n', { mode: 0o600 });
        proc = spawn('s3fs', [p.bucket, mnt, '-f', '-o', `use_path_request_style,url=${p.endpoint},passwd_file=${pw},dbglevel=info`], {
          stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: work },
        });
        proc.stdout!.on('data', (d: Buffer) => { s3fsLog = (s3fsLog + d.toString()).slice(-200_000); });
        proc.stderr!.on('data', (d: Buffer) => { s3fsLog = (s3fsLog + d.toString()).slice(-200_000); });
        const spawnError = new Promise<Error>((resolve) => proc!.once('error', resolve));
        await Promise.race([
          waitFor(`s3fs to mount ${mnt}`, async () => {
            assert.ok(!exited(), `s3fs exited (${proc?.exitCode ?? proc?.signalCode}):\n${s3fsLog}`);
            return mounted(mnt);
          }, 30_000, 100),
          spawnError.then((e) => { throw new Error(`cannot run s3fs: ${e.message}`); }),
        ]);
        await ok('ls', ['-la', mnt], 30_000);
      });

      h.step(mode, `${STEP.putSmall.replace(/\(.*\)/, '(cp; type from /etc/mime.types, s3fs x-amz-meta-mode/mtime)')}`, async () => {
        await ok('cp', [h.smallFile, m(p.keys.small)]);
        const head = await headOf(p.keys.small);
        assert.equal(head.ETag, quotedMd5(SMALL.body));
        assert.equal(head.ContentLength, SMALL.body.length);
      });

      h.step(mode, `${STEP.putBig} (mkdir + cp: 10 MiB multipart)`, async () => {
        await ok('mkdir', ['-p', path.dirname(m(p.keys.big))]);
        await ok('cp', [h.bigFile, m(p.keys.big)]);
        const head = await headOf(p.keys.big);
        assert.equal(head.ContentLength, BIG_SIZE);
        assert.match(head.ETag ?? '', /^"[0-9a-f]{32}-\d+"$/, 'a multipart ETag');
      });

      h.step(mode, `${STEP.listRecursive} (find)`, async () => {
        const r = await ok('find', ['.', '-type', 'f']);
        assert.deepEqual(r.stdout.split('\n').filter(Boolean).map((l) => l.replace(/^\.\//, '')).sort(), [p.keys.small, p.keys.big].sort());
        const d = await ok('find', ['.', '-mindepth', '1', '-type', 'd']);
        assert.deepEqual(d.stdout.split('\n').filter(Boolean), [`./${p.keys.big.split('/')[0]}`]);
      });

      h.step(mode, `${STEP.listDelimiter} (ls)`, async () => {
        const r = await ok('ls', ['-1Ap']);
        assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), [`${p.keys.big.split('/')[0]}/`, p.keys.small].sort());
      });

      h.step(mode, 'read content type and s3fs metadata (stat; JS SDK HeadObject)', async () => {
        const st = await ok('stat', ['-c', '%s %a', m(p.keys.small)]);
        assert.equal(st.stdout.trim().split(' ')[0], String(SMALL.body.length));
        const head = await headOf(p.keys.small);
        assert.match(head.ContentType ?? '', /^text\/plain/, 'the type s3fs took from /etc/mime.types');
        for (const k of ['mode', 'mtime']) assert.ok(head.Metadata?.[k], `x-amz-meta-${k} is missing: ${JSON.stringify(head.Metadata)}`);
      });

      h.step(mode, `${STEP.getSmall} (cat)`, async () => {
        const r = await ok('cat', [m(p.keys.small)]);
        assert.ok(r.stdoutBytes.equals(SMALL.body));
      });

      h.step(mode, `${STEP.getBig.replace(', ETag form', '')} (md5sum)`, async () => {
        const r = await ok('md5sum', [m(p.keys.big)]);
        assert.equal(r.stdout.split(' ')[0], h.bigMd5);
        const st = await ok('stat', ['-c', '%s', m(p.keys.big)]);
        assert.equal(st.stdout.trim(), String(BIG_SIZE));
      });

      h.step(mode, `${STEP.range} (dd skip/count)`, async () => {
        const start = 50 * MiB + 7;
        const len = MiB + 3;
        const r = await ok('dd', [`if=${m(p.keys.big)}`, 'bs=65536', 'iflag=skip_bytes,count_bytes', `skip=${start}`, `count=${len}`, 'status=none']);
        assert.ok(r.stdoutBytes.equals(await readSlice(h.bigFile, start, len)), `ranged bytes differ (got ${r.stdoutBytes.length})`);
      });

      h.step(mode, `${STEP.copy.replace('(server-side)', '(cp, then mv = server-side CopyObject + DeleteObject)')}`, async () => {
        await ok('mkdir', ['-p', path.dirname(m(p.keys.copy))]);
        await ok('cp', [m(p.keys.small), m(p.keys.tmpCopy)]);
        await ok('mv', [m(p.keys.tmpCopy), m(p.keys.copy)]);
        const get = await sdk.send(new GetObjectCommand({ Bucket: p.bucket, Key: p.keys.copy }));
        assert.ok(Buffer.from(await get.Body!.transformToByteArray()).equals(SMALL.body), 'bytes of the renamed copy');
        const gone = await headOf(p.keys.tmpCopy).then(() => undefined, (e: unknown) => e);
        assert.ok(gone, `${p.keys.tmpCopy} still exists after mv`);
        assert.match(sdkError(gone), /^404/);
      });

      h.step(mode, 'set metadata (chmod: REPLACE copy onto itself) and read it back (HeadObject x-amz-meta-mode)', async () => {
        await ok('chmod', ['640', m(p.keys.small)]);
        const head = await headOf(p.keys.small);
        assert.equal(head.Metadata?.mode, String(0o100640), `x-amz-meta-mode after chmod 640: ${JSON.stringify(head.Metadata)}`);
        assert.equal(head.ETag, quotedMd5(SMALL.body));
        const st = await ok('stat', ['-c', '%a', m(p.keys.small)]);
        assert.equal(st.stdout.trim(), '640');
      });

      h.step(mode, `${STEP.deleteMany} (rm -rf)`, async () => {
        await ok('rm', ['-rf', m(p.keys.small), path.dirname(m(p.keys.big)), path.dirname(m(p.keys.copy))]);
        const r = await ok('ls', ['-A']);
        assert.equal(r.stdout.trim(), '', 'the mount is not empty');
        const list = await sdk.send(new ListObjectsV2Command({ Bucket: p.bucket }));
        assert.deepEqual((list.Contents ?? []).map((o) => o.Key), [], 'objects left in the bucket');
      });

      h.step(mode, 'unmount (fusermount -u)', async () => {
        const r = await exec('fusermount', ['-u', mnt], { timeoutMs: 30_000 });
        assert.equal(r.code, 0, explain(r));
        await waitFor('s3fs to exit after the unmount', async () => exited(), 15_000);
        assert.ok(!mounted(mnt));
      });

      h.step(mode, `${STEP.rb} (JS SDK)`, async () => {
        await unmount();
        const res = await sdk.send(new DeleteBucketCommand({ Bucket: p.bucket }));
        assert.equal(res.$metadata.httpStatusCode, 204);
      });
    });
  }
});
