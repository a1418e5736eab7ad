/**
 * Unpersisted object bytes on this worker's disk: pinned (never evicted) until persisted or
 * deleted, capped at `alluxio.worker.page.store.pinned.file.capacity.limit.ratio` of the
 * cache. One file per (path, writeId) under `<cacheDir>/writecache/`, written to a temp file
 * and renamed, so a crash never leaves a partial version under its final name.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ByteRange } from '../../common/ufs/types.js';
import { PathEscapeError, resolveInside } from '../../common/safe-path.js';
import { writeBody } from '../../common/file-write.js';

/** Write ids are UUIDs (or hex): one safe file name. */
const WRITE_ID = /^[0-9a-f-]{8,64}$/;

function checkWriteId(writeId: string): void {
  if (!WRITE_ID.test(writeId)) throw new PathEscapeError(`not a write id: ${JSON.stringify(writeId)}`);
}

export class PinnedCapacityExceeded extends Error {
  override name = 'PinnedCapacityExceeded';
}

export interface LocalFile {
  writeId: string;
  size: number;
  mtimeMs: number;
  file: string;
}

export class LocalWriteStore {
  private usedBytes = 0;
  private usedFiles = 0;
  private reservedBytes = 0;
  readonly dir: string;
  private readonly tmpDir: string;

  private constructor(root: string, readonly capacityBytes: number) {
    this.dir = path.join(root, 'writecache');
    this.tmpDir = path.join(this.dir, 'tmp');
  }

  /** Opens the store, counting what is already pinned and dropping temp files of a previous run. */
  static async open(cacheDir: string, capacityBytes: number): Promise<LocalWriteStore> {
    const s = new LocalWriteStore(cacheDir, capacityBytes);
    await fs.rm(s.tmpDir, { recursive: true, force: true });
    await fs.mkdir(s.tmpDir, { recursive: true });
    for (const f of await s.files()) {
      s.usedBytes += f.size;
      s.usedFiles += 1;
    }
    return s;
  }

  /** Named by a hash of the path and the write id (a UUID; peers and internal URLs carry it, so it is checked). */
  private fileOf(nsPath: string, writeId: string): string {
    checkWriteId(writeId);
    const h = createHash('sha256').update(nsPath).digest('hex');
    return resolveInside(this.dir, h.slice(0, 2), h, writeId);
  }

  usage(): { pinnedBytes: number; capacityBytes: number; pinnedFiles: number } {
    return { pinnedBytes: this.usedBytes + this.reservedBytes, capacityBytes: this.capacityBytes, pinnedFiles: this.usedFiles };
  }

  /** Reserves room for `bytes` more pinned data, or refuses (the caller answers SlowDown). */
  reserve(bytes: number): () => void {
    if (this.usedBytes + this.reservedBytes + bytes > this.capacityBytes) {
      throw new PinnedCapacityExceeded(`unpersisted data would exceed the pinned capacity of ${this.capacityBytes} bytes`);
    }
    this.reservedBytes += bytes;
    let released = false;
    return () => {
      if (!released) this.reservedBytes -= bytes;
      released = true;
    };
  }

  /**
   * Streams `body` to a temp file; returns a commit (sync, then rename into place) and an abort.
   * The file stays open in between, so a small write costs open, write, sync, close, mkdir and
   * rename and nothing else: every file-system call is a trip through libuv's thread pool, and
   * for a 10 KiB PUT those trips were most of its latency (common/file-write.ts batches the
   * chunks: one write call for a small body).
   */
  async receive(nsPath: string, writeId: string, body: Readable, signal?: AbortSignal): Promise<{ size: number; tmp: string; commit: () => Promise<LocalFile>; abort: () => Promise<void> }> {
    checkWriteId(writeId);
    const file = this.fileOf(nsPath, writeId);
    const tmp = resolveInside(this.tmpDir, `${writeId}.${randomBytes(4).toString('hex')}`);
    const handle = await fs.open(tmp, 'w');
    let size: number;
    try {
      size = await writeBody(handle, body, signal);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw err;
    }
    let done = false;
    return {
      size,
      tmp,
      commit: async () => {
        done = true;
        try {
          await handle.datasync();
        } finally {
          await handle.close();
        }
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.rename(tmp, file);
        this.usedBytes += size;
        this.usedFiles += 1;
        return { writeId, size, mtimeMs: Date.now(), file };
      },
      abort: async () => {
        if (!done) await handle.close().catch(() => undefined);
        done = true;
        await fs.rm(tmp, { force: true });
      },
    };
  }

  has(nsPath: string, writeId: string): Promise<boolean> {
    return fs.stat(this.fileOf(nsPath, writeId)).then(() => true, () => false);
  }

  /**
   * This worker's copy, opened (undefined when it has none): one open instead of a stat and
   * then an open.
   */
  async open(nsPath: string, writeId: string, range?: ByteRange): Promise<Readable | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.fileOf(nsPath, writeId), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: 1024 * 1024 });
  }

  read(nsPath: string, writeId: string, range?: ByteRange): Readable {
    return createReadStream(this.fileOf(nsPath, writeId), { start: range?.start, end: range?.end, highWaterMark: 1024 * 1024 });
  }

  async remove(nsPath: string, writeId: string, size?: number): Promise<void> {
    await this.removeFile(this.fileOf(nsPath, writeId), size);
  }

  /** Removes a file found on disk (by files()), wherever it lies; `size` when the caller knows it saves a stat. */
  async removeFile(file: string, size?: number): Promise<void> {
    const bytes = size ?? (await fs.stat(file).catch(() => null))?.size ?? 0;
    try {
      await fs.unlink(file);
      this.usedBytes -= bytes;
      this.usedFiles -= 1;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const dir = path.dirname(file);
    await fs.rmdir(dir).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY') return;
      // Earlier versions wrote the namespace path next to each copy; no longer needed.
      await fs.unlink(`${file}.path`).catch(() => undefined);
      await fs.rmdir(dir).catch(() => undefined);
    });
  }

  /** Every committed file here (for orphan checks and restart accounting). */
  async files(): Promise<LocalFile[]> {
    const out: LocalFile[] = [];
    for (const a of await fs.readdir(this.dir).catch(() => [] as string[])) {
      if (a === 'tmp') continue;
      for (const h of await fs.readdir(path.join(this.dir, a)).catch(() => [] as string[])) {
        for (const w of await fs.readdir(path.join(this.dir, a, h)).catch(() => [] as string[])) {
          if (w.endsWith('.path')) continue;
          const file = path.join(this.dir, a, h, w);
          const st = await fs.stat(file).catch(() => null);
          if (st) out.push({ writeId: w, size: st.size, mtimeMs: st.mtimeMs, file });
        }
      }
    }
    return out;
  }

  /** Temp files no writer has touched for `idleMs` (dangling writes). */
  async sweepDangling(idleMs: number): Promise<number> {
    let n = 0;
    for (const name of await fs.readdir(this.tmpDir).catch(() => [] as string[])) {
      const f = path.join(this.tmpDir, name);
      const st = await fs.stat(f).catch(() => null);
      if (st && Date.now() - st.mtimeMs > idleMs) {
        await fs.rm(f, { force: true });
        n++;
      }
    }
    return n;
  }
}
