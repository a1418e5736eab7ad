/**
 * How the local UFS lays objects out on disk, shared by the adapter (local.ts) and its listing
 * thread (local-list.ts): the reserved folders, the sidecar record, and how a file's stat and
 * sidecar become a UfsStatus.
 */
import * as crypto from 'node:crypto';
import type { ObjectMetadata, UfsStatus } from './types.js';

export const META_DIR = '.alluxio-meta';
export const TMP_DIR = '.alluxio-tmp';
export const RESERVED: ReadonlySet<string> = new Set([META_DIR, TMP_DIR]);
export const DIRECTORY_CONTENT_TYPE = 'application/x-directory';
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
/** A sidecar's file name is its key's with this appended ("dir/" → "dir/.meta.json"). */
export const SIDECAR_SUFFIX = '.meta.json';

export interface Sidecar extends ObjectMetadata {
  size: number;
  mtimeMs: number;
  /** The entity tag: the MD5, or a multipart "…-N" value. */
  md5: string;
  /** Directory markers created through S3 ("PUT dir/") survive the pruning of empty parents. */
  explicitDir?: boolean;
}

/** What of a stat the status needs (fs.Stats has it). */
export interface FileStat {
  size: number;
  mtimeMs: number;
  ino: number;
  isDirectory(): boolean;
}

function metadataOf(side: Sidecar | null): ObjectMetadata {
  if (!side) return { userMetadata: {} };
  return { contentType: side.contentType, headers: side.headers, userMetadata: side.userMetadata ?? {}, tags: side.tags, checksum: side.checksum };
}

/** Changes whenever the file's content may have: the page cache keys pages on it. */
export function fingerprintOf(st: FileStat): string {
  return `${st.size}:${st.mtimeMs}:${st.ino}`;
}

// crypto.hash (Node 20.12+) is a one-shot digest several times cheaper than createHash, which a
// listing calls for every key without a sidecar.
const md5Hex: (s: string) => string = typeof crypto.hash === 'function'
  ? (s) => crypto.hash('md5', s, 'hex')
  : (s) => crypto.createHash('md5').update(s).digest('hex');

/**
 * A sidecar counts only while it names the file's exact size and mtime: a file changed behind
 * our back gets an opaque entity tag derived from its stat instead of a stale MD5.
 */
export function etagOf(st: FileStat, side: Pick<Sidecar, 'size' | 'mtimeMs' | 'md5'> | null): string {
  if (side !== null && side.size === st.size && side.mtimeMs === st.mtimeMs) return side.md5;
  return `${md5Hex(fingerprintOf(st))}-1`;
}

/** A key's status from its file's stat and its sidecar. */
export function statusOf(key: string, st: FileStat, side: Sidecar | null): UfsStatus {
  if (st.isDirectory()) {
    return { ...metadataOf(side), key, isDirectory: true, size: 0, mtimeMs: st.mtimeMs, etag: EMPTY_MD5, fingerprint: 'dir', contentType: side?.contentType ?? DIRECTORY_CONTENT_TYPE };
  }
  const valid = side !== null && side.size === st.size && side.mtimeMs === st.mtimeMs;
  return {
    ...metadataOf(valid ? side : null),
    key,
    isDirectory: false,
    size: st.size,
    mtimeMs: st.mtimeMs,
    etag: etagOf(st, side),
    fingerprint: fingerprintOf(st),
  };
}
