/**
 * The shared harness of the per-client compat scenarios (tests/compat/<client>.test.ts).
 *
 * Every client file runs the same scenario, as far as the client can express it, against one
 * 3-worker cluster started for that file, twice: once with the client's endpoint set to the worker
 * that owns the scenario's keys ("owner") and once to a worker that owns none of them
 * ("non-owner", so every object request is proxied to another worker). The scenario:
 * make a bucket; put a small object with a content type, user metadata and the stored standard
 * headers, and a 100 MiB object (multipart where the client does that by default); list
 * recursively and with delimiter "/"; get whole and ranged; server-side copy; tag and read the
 * tags; set and read metadata; delete many; remove the bucket.
 *
 * Each step is its own test (so one failing step does not hide the others), and every step's
 * outcome is also written to tests/artifacts/compat/<client>.json and printed as a table at the end
 * of the file, for tests/compat/CLIENTS.md.
 *
 * Helpers here: the cluster/temp-dir lifecycle (`useHarness`), the key/endpoint plan of a run
 * (`Harness.plan`), a time-bounded process runner with binary stdout (`exec`), random files, MD5s
 * and multipart ETags, and a JS SDK client for checks that the client under test cannot make.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { REPO_ROOT, startCluster, tempDir, type TestCluster, type TestWorker } from '../helpers/cluster.js';
import { oneAttemptClient } from '../helpers/s3.js';

export const MiB = 1024 * 1024;
/** The "100 MB" object of every scenario. */
export const BIG_SIZE = 100 * MiB;

export type Mode = 'owner' | 'non-owner';
export const MODES: readonly Mode[] = ['owner', 'non-owner'];

/** Step names, the same for every client (CLIENTS.md is a table of them). */
export const STEP = {
  installed: 'client is installed (version)',
  mb: 'make bucket',
  putSmall: 'put small object (content type, user metadata, standard headers)',
  putBig: 'put 100 MiB object',
  listRecursive: 'list recursively',
  listDelimiter: 'list with delimiter "/"',
  headSmall: 'read content type and user metadata',
  storedHeaders: 'stored Cache-Control/Content-Disposition/Content-Encoding/Content-Language/Expires',
  getSmall: 'get small object (bytes)',
  getBig: 'get 100 MiB object (md5, size, ETag form)',
  range: 'ranged get',
  copy: 'copy object (server-side)',
  copyBig: 'copy 100 MiB object (multipart copy, UploadPartCopy)',
  tagging: 'tag an object and read the tags back',
  metadata: 'set metadata (copy onto itself, REPLACE) and read it back',
  deleteMany: 'delete many objects',
  rb: 'remove the bucket',
} as const;

// ---------------------------------------------------------------- the small object

/** What every client puts as the small object (as far as it can). */
export const SMALL = {
  body: Buffer.from('hello from the compat scenario, 0123456789 abcdefghijklmnopqrstuvwxyz\n'),
  contentType: 'application/x-compat-small',
  metadata: { color: 'blue', 'owner-name': 'alice' } as Record<string, string>,
  cacheControl: 'max-age=60',
  contentDisposition: 'attachment; filename="hello.txt"',
  contentEncoding: 'identity',
  contentLanguage: 'en-GB',
  expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
  /** The metadata the "set metadata" step replaces it with. */
  newMetadata: { color: 'green', stage: 'replaced' } as Record<string, string>,
  newContentType: 'text/markdown',
  tags: { project: 'alluxio', env: 'compat test' } as Record<string, string>,
};

export const md5Hex = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
export const quotedMd5 = (b: Buffer | string): string => `"${md5Hex(b)}"`;

// ---------------------------------------------------------------- processes

export interface ExecResult {
  cmd: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
  ms: number;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  input?: string | Buffer;
  cwd?: string;
}

/**
 * Runs a program to completion, bounded in time (SIGKILL at the limit), keeping stdout as bytes.
 * A program that cannot be started (not installed) rejects with a message saying so.
 */
export function exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const started = Date.now();
  const shown = [cmd, ...args].map((a) => (/[\s"'$&|;<>*?]/.test(a) ? JSON.stringify(a) : a)).join(' ');
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const p = spawn(cmd, args, { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    let timedOut = false;
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => { if (stderr.length < 2_000_000) stderr += d.toString(); });
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, opts.timeoutMs ?? 120_000);
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message} (is it installed? .ci/run installs every client)`));
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ cmd: shown, code, signal, timedOut, stdoutBytes, stdout: stdoutBytes.toString('utf8'), stderr, ms: Date.now() - started });
    });
    p.stdin.on('error', () => { /* the program may exit without reading its input */ });
    p.stdin.end(opts.input ?? '');
  });
}

/** A readable account of a finished command, for assertion messages. */
export function explain(r: ExecResult, maxChars = 6000): string {
  const cut = (s: string) => (s.length > maxChars ? `…${s.slice(-maxChars)}` : s);
  const status = r.timedOut ? `was killed at its time limit after ${r.ms} ms` : `exited ${r.code}${r.signal ? ` (${r.signal})` : ''}`;
  return `$ ${r.cmd}\n${status}\n--- stderr\n${cut(r.stderr.trim())}\n--- stdout\n${cut(r.stdout.trim())}`;
}

/** Runs a command that must exit 0. */
export async function mustExec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await exec(cmd, args, opts);
  assert.ok(r.code === 0 && !r.timedOut, `command failed:\n${explain(r)}`);
  return r;
}

// ---------------------------------------------------------------- files

/** Writes `size` random bytes (1 MiB at a time); returns the MD5 (hex). */
export async function writeRandomFile(file: string, size: number): Promise<string> {
  const h = createHash('md5');
  const fh = await fs.open(file, 'w');
  try {
    for (let done = 0; done < size;) {
      const chunk = randomBytes(Math.min(MiB, size - done));
      h.update(chunk);
      await fh.write(chunk);
      done += chunk.length;
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/**
 * A cheap large file: one random 1 MiB block repeated, each copy stamped with its block number in
 * its first 8 bytes, so a misplaced or repeated part changes the MD5. Returns the MD5 (hex).
 */
export async function writeStampedFile(file: string, size: number): Promise<string> {
  const block = randomBytes(MiB);
  const h = createHash('md5');
  const fh = await fs.open(file, 'w');
  try {
    for (let i = 0, done = 0; done < size; i++) {
      const n = Math.min(MiB, size - done);
      const chunk = Buffer.from(block.subarray(0, n));
      chunk.writeBigUInt64BE(BigInt(i), 0);
      h.update(chunk);
      await fh.write(chunk);
      done += n;
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** MD5 (hex) of a file or of bytes [start, end] of it. */
export function md5File(file: string, start?: number, end?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('md5');
    createReadStream(file, { start, end, highWaterMark: MiB })
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** The S3 multipart ETag, quoted, of a file uploaded in parts of `partSize`: "md5(md5(p1)..md5(pN))-N". */
export async function multipartEtag(file: string, partSize: number): Promise<string> {
  const size = (await fs.stat(file)).size;
  const digests: Buffer[] = [];
  const fh = await fs.open(file, 'r');
  try {
    for (let off = 0; off < size; off += partSize) {
      const h = createHash('md5');
      for (let p = off; p < Math.min(off + partSize, size);) {
        const n = Math.min(8 * MiB, off + partSize - p, size - p);
        const buf = Buffer.alloc(n);
        const { bytesRead } = await fh.read(buf, 0, n, p);
        h.update(buf.subarray(0, bytesRead));
        p += bytesRead;
      }
      digests.push(h.digest());
    }
  } finally {
    await fh.close();
  }
  return `"${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}"`;
}

/** Bytes [start, start+length) of a file. */
export async function readSlice(file: string, start: number, length: number): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------- listings

/**
 * The cluster lists a UFS directory as a 0-byte folder object "dir/" (a documented choice: see
 * tests/compat/CLIENTS.md), which S3 itself would not list for keys put as "dir/x". A listing
 * check accepts those folder objects, and only them, beside the keys the scenario put.
 */
export function withoutFolderObjects(keys: string[], put: string[]): string[] {
  const ancestors = new Set(put.flatMap((k) => k.split('/').slice(0, -1).map((_, i, parts) => `${parts.slice(0, i + 1).join('/')}/`)));
  return keys.filter((k) => !(k.endsWith('/') && ancestors.has(k)));
}

/** Top-level view of keys: the names and common prefixes a delimiter "/" listing must show. */
export function delimited(keys: string[]): { contents: string[]; prefixes: string[] } {
  const contents = keys.filter((k) => !k.includes('/')).sort();
  const prefixes = [...new Set(keys.filter((k) => k.includes('/')).map((k) => `${k.split('/')[0]}/`))].sort();
  return { contents, prefixes };
}

// ---------------------------------------------------------------- the plan of one run

export interface KeyTemplates {
  [name: string]: (i: number) => string;
}

/** The usual keys of a scenario: a top-level small object, the big object under big/, the copy target. */
export const DEFAULT_KEYS: KeyTemplates = {
  small: (i) => `hello-${i}.txt`,
  big: (i) => `big/blob-${i}.bin`,
  copy: (i) => `copies/hello-copy-${i}.txt`,
};

export interface Plan {
  client: string;
  mode: Mode;
  bucket: string;
  /** The worker the client talks to. */
  worker: TestWorker;
  endpoint: string;
  host: string;
  port: number;
  keys: Record<string, string>;
  /** Key → id of the worker that owns it (for messages). */
  owners: Record<string, string>;
  /** One line for test diagnostics. */
  describe(): string;
}

// ---------------------------------------------------------------- results

interface StepResult { mode: string; step: string; ok: boolean; ms: number; error?: string }

// ---------------------------------------------------------------- the harness

export interface HarnessOptions {
  /** Size of the big file made for the file's scenarios; 0 makes none. Default BIG_SIZE. */
  bigSize?: number;
  workers?: number;
  conf?: Record<string, string>;
}

export class Harness {
  cluster!: TestCluster;
  tmp!: string;
  /** The 100 MiB random file and its MD5 (hex). */
  bigFile = '';
  bigMd5 = '';
  bigSize = 0;
  smallFile = '';
  version = '';
  readonly results: StepResult[] = [];
  private readonly sdks: S3Client[] = [];
  private seq = 0;

  constructor(readonly client: string, readonly opts: HarnessOptions) {}

  /** A path in this file's temp dir. */
  file(name: string): string {
    return path.join(this.tmp, name);
  }

  /** A fresh directory in this file's temp dir. */
  async dir(name: string): Promise<string> {
    const d = path.join(this.tmp, `${name}-${++this.seq}`);
    await fs.mkdir(d, { recursive: true });
    return d;
  }

  /** Where the cluster's root UFS keeps bucket/key. */
  ufsPath(bucket: string, key: string): string {
    return path.join(this.cluster.ufsRoot, bucket, ...key.split('/'));
  }

  /**
   * The keys and endpoint of one run. Owner mode: the endpoint is the worker that owns every key.
   * Non-owner mode: the endpoint owns none of them, and the copy target's owner also differs from
   * the source's owner (a copy across two other workers) when the ring allows it.
   */
  plan(mode: Mode, templates: KeyTemplates = DEFAULT_KEYS): Plan {
    const c = this.cluster;
    const rand = randomBytes(4).toString('hex');
    const bucket = `${this.client}-${mode === 'owner' ? 'own' : 'non'}-${rand}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    const names = Object.keys(templates);
    const first = 'big' in templates ? 'big' : names[0];
    const firstKey = templates[first](0);
    const worker = mode === 'owner' ? c.owner(bucket, firstKey) : c.nonOwner(bucket, firstKey);
    const keys: Record<string, string> = { [first]: firstKey };
    const owners: Record<string, string> = { [firstKey]: c.owner(bucket, firstKey).id };
    for (const name of names) {
      if (name === first) continue;
      const avoid = name === 'copy' && keys.small ? c.owner(bucket, keys.small) : undefined;
      let chosen: string | undefined;
      let fallback: string | undefined;
      for (let i = 0; i < 10_000 && !chosen; i++) {
        const k = templates[name](i);
        const o = c.owner(bucket, k);
        const fits = mode === 'owner' ? o === worker : o !== worker;
        if (!fits) continue;
        fallback ??= k;
        if (!avoid || o !== avoid) chosen = k;
      }
      chosen ??= fallback;
      assert.ok(chosen, `no key for ${name} fits the ${mode} plan`);
      keys[name] = chosen;
      owners[chosen] = c.owner(bucket, chosen).id;
    }
    const u = new URL(worker.endpoint);
    const client = this.client;
    return {
      client, mode, bucket, worker, endpoint: worker.endpoint, host: u.hostname, port: Number(u.port), keys, owners,
      describe: () => `${client} ${mode} run: endpoint ${worker.id} (${worker.endpoint}), bucket ${bucket}, keys ${Object.entries(keys).map(([n, k]) => `${n}=${k}@${owners[k]}`).join(' ')}`,
    };
  }

  /** A JS SDK v3 client for checks the client under test cannot make (not the client under test). */
  sdk(endpoint: string): S3Client {
    const s = oneAttemptClient(endpoint, { connectTimeoutMs: 5_000 });
    this.sdks.push(s);
    return s;
  }

  /**
   * Registers one scenario step as a test (bounded in time) and records its outcome for the
   * summary. `mode` is the run's label ('owner', 'non-owner', or '' for a one-off test).
   */
  step(mode: string, name: string, fn: () => Promise<void>, timeoutMs = 240_000): void {
    it(name, { timeout: timeoutMs }, async () => {
      const t0 = Date.now();
      try {
        await fn();
        this.results.push({ mode, step: name, ok: true, ms: Date.now() - t0 });
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        this.results.push({ mode, step: name, ok: false, ms: Date.now() - t0, error: msg.slice(0, 4000) });
        throw err;
      }
    });
  }

  async setUp(): Promise<void> {
    this.tmp = tempDir(`compat-${this.client}`);
    const size = this.opts.bigSize ?? BIG_SIZE;
    const [cluster] = await Promise.all([
      // The cluster's data dir (UFS, caches, logs) lives in the temp dir, so it goes with it.
      startCluster({ workers: this.opts.workers ?? 3, conf: this.opts.conf, dataDir: path.join(this.tmp, 'cluster') }),
      (async () => {
        if (size > 0) {
          this.bigFile = path.join(this.tmp, 'big-source.bin');
          this.bigMd5 = await writeRandomFile(this.bigFile, size);
          this.bigSize = size;
        }
        this.smallFile = path.join(this.tmp, 'hello.txt');
        await fs.writeFile(this.smallFile, SMALL.body);
      })(),
    ]);
    this.cluster = cluster;
  }

  async tearDown(): Promise<void> {
    for (const s of this.sdks) s.destroy();
    await this.cluster?.close();
    if (this.tmp) {
      // A FUSE mount left under the temp dir (s3fs) must go before the dir is removed.
      for (const dir of mountsUnder(this.tmp)) {
        const r = await exec('fusermount', ['-u', '-z', dir], { timeoutMs: 30_000 }).catch(() => undefined);
        if (!r || r.code !== 0) await exec('umount', ['-l', dir], { timeoutMs: 30_000 }).catch(() => undefined);
      }
      if (mountsUnder(this.tmp).length === 0) await fs.rm(this.tmp, { recursive: true, force: true });
      else console.log(`left ${this.tmp} in place: it still holds mounts ${mountsUnder(this.tmp).join(', ')}`);
    }
    this.writeSummary();
  }

  private writeSummary(): void {
    if (this.results.length === 0) return;
    const modes = [...new Set(this.results.map((r) => r.mode))];
    const steps = [...new Set(this.results.map((r) => r.step))];
    const cell = (mode: string, step: string) => {
      const r = this.results.find((x) => x.mode === mode && x.step === step);
      return r ? (r.ok ? 'pass' : 'FAIL') : '-';
    };
    const lines = [`compat summary: ${this.client} ${this.version}`, `| step | ${modes.map((m) => m || 'once').join(' | ')} |`, `|---|${modes.map(() => '---').join('|')}|`];
    for (const s of steps) lines.push(`| ${s} | ${modes.map((m) => cell(m, s)).join(' | ')} |`);
    const failures = this.results.filter((r) => !r.ok).map((r) => `- [${r.mode || 'once'}] ${r.step}: ${(r.error ?? '').split('\n').slice(0, 6).join(' / ').slice(0, 600)}`);
    console.log([...lines, ...(failures.length ? ['failures:', ...failures] : [])].join('\n'));
    try {
      const dir = path.join(REPO_ROOT, 'tests', 'artifacts', 'compat');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `${this.client}.json`), JSON.stringify({ client: this.client, version: this.version, results: this.results }, null, 2));
    } catch { /* the summary file is a convenience */ }
  }
}

/** Mount points at or below `dir` (from /proc/self/mountinfo, where a space is \\040). */
export function mountsUnder(dir: string): string[] {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
      .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)));
  } catch {
    return [];
  }
}

/**
 * Registers the file's cluster and temp dir (before/after at the current describe level) and
 * returns the harness; its fields are set once the `before` hook has run.
 */
export function useHarness(client: string, opts: HarnessOptions = {}): Harness {
  const h = new Harness(client, opts);
  before(() => h.setUp(), { timeout: 120_000 });
  after(() => h.tearDown(), { timeout: 60_000 });
  return h;
}

/** Asserts a time-bounded promise (for in-process SDK calls) settles within `ms`. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms); });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** The HTTP status and S3 error code of a failed SDK call, for messages. */
export function sdkError(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; Code?: string };
  return `${e.$metadata?.httpStatusCode ?? '?'} ${e.Code ?? e.name ?? ''}: ${e.message ?? String(err)}`;
}
