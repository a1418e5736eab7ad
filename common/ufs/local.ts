/**
 * A local directory as under storage.
 *
 * Object bytes are plain files under the root, so the directory stays usable by other tools.
 * What a filesystem cannot hold (Content-Type, user metadata, the MD5 ETag) lives in a sidecar
 * `<root>/.alluxio-meta/<key>.meta.json` that records the size and mtime it describes: if the
 * file is changed behind our back, the sidecar no longer matches and is ignored.
 *
 * Writes stream into `<root>/.alluxio-tmp/` and become visible by rename, so a crash never
 * exposes a partial object. Both reserved folders start with '.', which no bucket name can.
 *
 * Listings run in a worker thread with cached directory snapshots (local-list.ts says why a
 * snapshot is never stale).
 */
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { assertRealInside, PathEscapeError, resolveInside } from '../safe-path.js';
import { writeBody } from '../file-write.js';
import { DIRECTORY_CONTENT_TYPE, EMPTY_MD5, META_DIR, RESERVED, SIDECAR_SUFFIX, statusOf, TMP_DIR, type Sidecar } from './local-layout.js';
import { ListThread } from './local-list-client.js';
import {
  UfsError, type ListOptions, type ListResult, type MetadataUpdate, type ReadOptions,
  type UfsOptions, type UfsStatus, type UnderFileSystem, type WriteOptions,
} from './types.js';

export { compareKeys } from './key-order.js';

/** Turns errno failures into UfsError; anything else (a caller's veto, say) passes through untouched. */
function translate(err: unknown, key: string): unknown {
  if (err instanceof UfsError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (typeof code !== 'string' || !(/^E[A-Z]+$/.test(code) || code === 'ABORT_ERR')) return err;
  switch (code) {
    case 'ENOENT': return new UfsError('NotFound', `no such key: ${key}`, { cause: err });
    case 'ENOTDIR':
    case 'EISDIR':
    case 'EEXIST': return new UfsError('Conflict', `key ${key} conflicts with an existing object or directory`, { cause: err });
    case 'ENOTEMPTY': return new UfsError('NotEmpty', `directory ${key} is not empty`, { cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS': return new UfsError('AccessDenied', `permission denied on ${key}`, { cause: err });
    case 'ENAMETOOLONG': return new UfsError('InvalidKey', `key too long for the filesystem: ${key}`, { cause: err });
    case 'ABORT_ERR': return new UfsError('Aborted', 'aborted', { cause: err });
    default: return new UfsError('Internal', `local UFS error on ${key}: ${(err as Error).message}`, { cause: err });
  }
}

/** A temp file nobody has written to for this long belongs to a writer that died. */
const ABANDONED_TEMP_MS = 60 * 60 * 1000;

export class LocalUnderFileSystem implements UnderFileSystem {
  readonly uri: string;
  private readonly root: string;
  /** Listings run in a thread of their own, with directory snapshots (local-list.ts). */
  private readonly lister: ListThread;
  private lastSweep = 0;
  /** The root's real path, resolved once (it is where objects live; links below it are what is checked). */
  private realRoot: Promise<string> | undefined;

  constructor(uri: string, _opts: UfsOptions) {
    const dir = uri.startsWith('file://') ? fileURLToPath(uri) : uri;
    this.root = path.resolve(dir);
    this.uri = `file://${this.root}`;
    this.lister = new ListThread(this.root);
  }

  /**
   * Maps a key to a path under `base`, refusing anything that would leave it: the check is
   * done on the resolved path with path.relative, never on string prefixes.
   */
  private resolveUnder(base: string, key: string): string {
    if (key.includes('\0')) throw new UfsError('InvalidKey', 'key contains a NUL byte');
    const segments = key.split('/');
    if (segments.some((s) => s === '.' || s === '..')) throw new UfsError('InvalidKey', `key has a "." or ".." segment: ${key}`);
    if (segments[0] !== undefined && RESERVED.has(segments[0]) && base === this.root) {
      throw new UfsError('InvalidKey', `key uses a reserved name: ${key}`);
    }
    if (key === '' || key === '/') return base;
    try {
      return resolveInside(base, key);
    } catch (err) {
      if (err instanceof PathEscapeError) throw new UfsError('InvalidKey', `key escapes the root: ${key}`, { cause: err });
      throw err;
    }
  }

  /**
   * Objects are files under the root; a symbolic link placed in the tree must not make a key
   * name a file elsewhere. Checked on the real path before a file is opened, created or removed.
   */
  private async realInside(file: string, key: string): Promise<void> {
    try {
      this.realRoot ??= fs.realpath(this.root).catch(() => path.resolve(this.root));
      await assertRealInside(this.root, file, await this.realRoot);
    } catch (err) {
      if (err instanceof PathEscapeError) throw new UfsError('InvalidKey', `key leads outside the root through a symbolic link: ${key}`, { cause: err });
      throw translate(err, key);
    }
  }

  private dataPath(key: string): string {
    return this.resolveUnder(this.root, key);
  }

  private metaPath(key: string): string {
    return this.resolveUnder(path.join(this.root, META_DIR), `${key}${SIDECAR_SUFFIX}`);
  }

  private async readSidecar(key: string): Promise<Sidecar | null> {
    try {
      return JSON.parse(await fs.readFile(this.metaPath(key), 'utf8')) as Sidecar;
    } catch {
      return null;
    }
  }

  private status(key: string, st: Stats, side: Sidecar | null): UfsStatus {
    return statusOf(key, st, side);
  }

  async stat(key: string): Promise<UfsStatus | null> {
    // The root itself is a directory, as a mounted bucket is.
    const isDirKey = key === '' || key.endsWith('/');
    let st: Stats;
    try {
      const file = this.dataPath(isDirKey ? key.replace(/\/$/, '') : key);
      await this.realInside(file, key);
      st = await fs.stat(file);
    } catch (err) {
      const e = translate(err, key);
      if (e instanceof UfsError && (e.code === 'NotFound' || e.code === 'Conflict')) return null;
      throw e;
    }
    if (st.isDirectory() !== isDirKey) return null;
    return this.status(key, st, await this.readSidecar(key));
  }

  async read(key: string, opts: ReadOptions = {}): Promise<Readable> {
    if (opts.signal?.aborted) throw new UfsError('Aborted', `read of ${key} aborted`);
    const file = this.dataPath(key);
    await this.realInside(file, key);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'r');
    } catch (err) {
      throw translate(err, key);
    }
    try {
      // Check the fingerprint on the open descriptor: a concurrent rename swaps the path,
      // not the inode we read from, so what we check is what we stream.
      const st = await handle.stat();
      if (st.isDirectory()) throw new UfsError('NotFound', `no such key: ${key}`);
      if (opts.fingerprint !== undefined && opts.fingerprint !== `${st.size}:${st.mtimeMs}:${st.ino}`) {
        throw new UfsError('Changed', `${key} changed since it was looked up`);
      }
      // The stream owns the handle from here: it closes it at the end, on error and on destroy.
      const stream = createReadStream('', {
        fd: handle,
        start: opts.range?.start,
        end: opts.range?.end,
        autoClose: true,
        highWaterMark: 1024 * 1024,
      });
      const signal = opts.signal;
      if (signal) {
        const onAbort = () => stream.destroy(new UfsError('Aborted', `read of ${key} aborted`));
        if (signal.aborted) onAbort();
        else {
          signal.addEventListener('abort', onAbort, { once: true });
          stream.once('close', () => signal.removeEventListener('abort', onAbort));
        }
      }
      return stream;
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw translate(err, key);
    }
  }

  /**
   * A write is a temp file, synced, then the sidecar, then a rename into place. Every call here
   * is a trip through libuv's thread pool, so the common case makes as few as it can (about a
   * dozen for a small object): the temp file is written and synced on one open handle whose
   * stat is the object's, and folders are made only when a call finds them missing.
   */
  async write(key: string, body: Readable, opts: WriteOptions): Promise<UfsStatus> {
    if (key === '' || key.endsWith('/')) throw new UfsError('InvalidKey', `not an object key: ${key}`);
    const dest = this.dataPath(key);
    const tmpDir = path.join(this.root, TMP_DIR);
    const tmp = path.join(tmpDir, randomUUID());
    if (Date.now() - this.lastSweep > ABANDONED_TEMP_MS / 4) void this.sweepAbandonedTemps(tmpDir);
    const handle = await inFolder(tmpDir, () => fs.open(tmp, 'wx')).catch((err) => { throw translate(err, key); });
    let open = true;
    try {
      await writeBody(handle, body, opts.signal);
      const commit = await opts.beforeCommit();
      await handle.sync();
      // The sidecar goes first and names the exact size and mtime of the new file: if we die
      // between the two renames, the old file and the new sidecar disagree and it is ignored.
      // The rename keeps both, so this stat is the object's.
      const st = await handle.stat();
      open = false;
      await handle.close();
      const side: Sidecar = {
        size: st.size, mtimeMs: st.mtimeMs, md5: commit.etag ?? commit.md5Hex,
        contentType: opts.contentType, headers: opts.headers, userMetadata: opts.userMetadata, tags: opts.tags, checksum: commit.checksum,
      };
      await this.writeSidecar(key, side);
      await this.realInside(dest, key);
      // A key whose folder does not exist yet: made, checked again for links, then the rename.
      await inFolder(path.dirname(dest), () => fs.rename(tmp, dest), () => this.realInside(dest, key));
      return this.status(key, st, side);
    } catch (err) {
      if (open) await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw translate(err, key);
    }
  }

  /**
   * Writers that crash leave their temp file behind (never a visible object). Several workers
   * share one directory, so only files idle for an hour are removed: a live upload keeps
   * touching its file.
   */
  private async sweepAbandonedTemps(tmpDir: string): Promise<void> {
    this.lastSweep = Date.now();
    const names = await fs.readdir(tmpDir).catch(() => [] as string[]);
    for (const name of names) {
      const file = path.join(tmpDir, name);
      const st = await fs.stat(file).catch(() => null);
      if (st && st.isFile() && Date.now() - st.mtimeMs > ABANDONED_TEMP_MS) await fs.rm(file, { force: true }).catch(() => undefined);
    }
  }

  private async writeSidecar(key: string, side: Sidecar): Promise<void> {
    const meta = this.metaPath(key);
    const tmp = `${meta}.${randomUUID()}.tmp`;
    const text = JSON.stringify(side);
    await inFolder(path.dirname(meta), () => fs.writeFile(tmp, text));
    await fs.rename(tmp, meta);
  }

  async delete(key: string): Promise<void> {
    if (key.endsWith('/')) {
      const dir = this.dataPath(key.slice(0, -1));
      await this.realInside(dir, key);
      await fs.rm(this.metaPath(key), { force: true });
      try {
        await fs.rmdir(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // A folder object whose directory still has children: S3 deletes only the marker.
        if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'ENOTDIR') throw translate(err, key);
      }
      await this.removeMetaDir(key);
    } else {
      await this.realInside(this.dataPath(key), key);
      try {
        const st = await fs.stat(this.dataPath(key));
        if (st.isDirectory()) return;
        await fs.unlink(this.dataPath(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw translate(err, key);
      }
      await fs.rm(this.metaPath(key), { force: true });
    }
    await this.pruneEmptyParents(key);
  }

  /**
   * S3 has no directories: once the last object under an implicit directory goes, so does the
   * directory. Directories created as folder objects stay until deleted themselves. The
   * top-level directory is a bucket of the root mount and is never pruned here.
   */
  private async pruneEmptyParents(key: string): Promise<void> {
    const parts = key.replace(/\/$/, '').split('/');
    for (let n = parts.length - 1; n >= 2; n--) {
      const dirKey = `${parts.slice(0, n).join('/')}/`;
      if (await this.readSidecar(dirKey)) return;
      try {
        await fs.rmdir(this.dataPath(dirKey.slice(0, -1)));
      } catch {
        return;
      }
      await this.removeMetaDir(dirKey);
    }
  }

  async updateMetadata(key: string, update: MetadataUpdate): Promise<UfsStatus> {
    const current = await this.stat(key);
    if (!current) throw new UfsError('NotFound', `no such key: ${key}`);
    const st = await fs.stat(this.dataPath(key.replace(/\/$/, ''))).catch((err) => { throw translate(err, key); });
    const old = await this.readSidecar(key);
    const side: Sidecar = {
      size: current.size,
      mtimeMs: st.mtimeMs,
      md5: current.etag,
      contentType: update.replace ? update.replace.contentType : current.contentType,
      headers: update.replace ? update.replace.headers : current.headers,
      userMetadata: update.replace ? update.replace.userMetadata : current.userMetadata,
      tags: update.tags ?? current.tags,
      checksum: current.checksum,
      explicitDir: old?.explicitDir,
    };
    await this.writeSidecar(key, side);
    return this.status(key, st, side);
  }

  /** The sidecar folder mirroring directory `dirKey`, once it holds nothing more. */
  private async removeMetaDir(dirKey: string): Promise<void> {
    await fs.rmdir(path.dirname(this.metaPath(`${dirKey}x`))).catch(() => undefined);
  }

  async mkdir(key: string): Promise<void> {
    if (!key.endsWith('/')) throw new UfsError('InvalidKey', `not a folder key: ${key}`);
    const dir = this.dataPath(key.slice(0, -1));
    try {
      await this.realInside(dir, key);
      await fs.mkdir(dir, { recursive: true });
      const st = await fs.stat(dir);
      if (!st.isDirectory()) throw new UfsError('Conflict', `${key} is a file`);
      await this.writeSidecar(key, { size: 0, mtimeMs: st.mtimeMs, md5: EMPTY_MD5, contentType: DIRECTORY_CONTENT_TYPE, explicitDir: true });
    } catch (err) {
      throw translate(err, key);
    }
  }

  async list(opts: ListOptions): Promise<ListResult> {
    const { prefix, maxKeys } = opts;
    if (maxKeys <= 0) return { objects: [], commonPrefixes: [], isTruncated: false };
    // A prefix through a "." or ".." segment matches no key (keys cannot hold one): an empty
    // page, as S3 answers, rather than a directory walk somewhere else.
    if (prefix.split('/').slice(0, -1).some((s) => s === '.' || s === '..')) return { objects: [], commonPrefixes: [], isTruncated: false };
    // Start at the parent of the deepest directory the prefix names, so a listing never reads
    // unrelated trees yet still returns the folder object "dir/" when the prefix is "dir/".
    const startDir = prefix.slice(0, prefix.lastIndexOf('/', prefix.length - 2) + 1);
    this.dataPath(startDir.replace(/\/$/, '')); // a reserved or NUL-holding prefix is InvalidKey, as for any key
    try {
      return await this.lister.list({ ...opts, startDir });
    } catch (err) {
      throw translate(err, startDir);
    }
  }

  async probe(readOnly: boolean): Promise<void> {
    let st: Stats;
    try {
      st = await fs.stat(this.root);
    } catch (err) {
      throw new UfsError('Unavailable', `cannot use ${this.uri}: ${(err as Error).message}`, { cause: err });
    }
    if (!st.isDirectory()) throw new UfsError('Unavailable', `cannot use ${this.uri}: not a directory`);
    if (readOnly) {
      await fs.readdir(this.root).catch((err) => { throw translate(err, ''); });
      return;
    }
    const tmpDir = path.join(this.root, TMP_DIR);
    const probe = path.join(tmpDir, `.alluxio-probe-${randomUUID()}`);
    try {
      await fs.mkdir(tmpDir, { recursive: true });
      await fs.writeFile(probe, 'probe');
      if ((await fs.readFile(probe, 'utf8')) !== 'probe') throw new Error('probe read back different bytes');
    } catch (err) {
      throw new UfsError('Unavailable', `cannot write to ${this.uri}: ${(err as Error).message}`, { cause: err });
    } finally {
      await fs.rm(probe, { force: true }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.lister.close();
  }
}

/**
 * Runs `op`, which creates something in `dir`; when `dir` does not exist (ENOENT) it is made,
 * `check` runs (e.g. the symbolic-link check of the new folder) and `op` runs again. Folders
 * are made only when missing: each mkdir is one more trip through the thread pool.
 */
async function inFolder<T>(dir: string, op: () => Promise<T>, check?: () => Promise<void>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await fs.mkdir(dir, { recursive: true });
    await check?.();
    return op();
  }
}
