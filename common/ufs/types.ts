/**
 * The under-storage contract: one streaming interface, one adapter per kind of store
 * (ufs/local.ts, ufs/s3.ts). Keys are relative to the adapter's root, '/'-separated, never
 * starting with '/'; a key ending in '/' names a directory (a "folder object").
 *
 * Adapters translate their own failures into UfsError at this boundary; nothing above sees
 * an errno or an AWS SDK exception.
 */
import type { Readable } from 'node:stream';

export type UfsErrorCode =
  | 'NotFound'          // the key does not exist
  | 'Conflict'          // the key cannot exist because of another (a file where a directory is needed, or the reverse)
  | 'NotEmpty'          // a directory still has children
  | 'AccessDenied'      // the store refused our credentials or the mount is read-only
  | 'InvalidKey'        // the key cannot be represented in this store (or escapes the root)
  | 'Changed'           // the object changed between stat and read (fingerprint mismatch)
  | 'Unavailable'       // the store could not be reached
  | 'Aborted'           // the caller aborted (client went away)
  | 'Internal';

export class UfsError extends Error {
  override name = 'UfsError';
  constructor(readonly code: UfsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface UfsStatus {
  key: string;
  isDirectory: boolean;
  size: number;
  mtimeMs: number;
  /**
   * The entity tag, unquoted: the MD5 of the content when the store knows it, otherwise an
   * opaque value that changes with the content (suffixed "-1" so clients never mistake it for
   * an MD5 and fail a hash check).
   */
  etag: string;
  /** Changes whenever the content changes; the cache keys pages on it. */
  fingerprint: string;
  contentType?: string;
  userMetadata?: Record<string, string>;
}

export interface ByteRange {
  /** Inclusive first byte. */
  start: number;
  /** Inclusive last byte. */
  end: number;
}

export interface ReadOptions {
  range?: ByteRange;
  signal?: AbortSignal;
  /** When set, the read fails with UfsError('Changed') if the object's fingerprint differs. */
  fingerprint?: string;
}

export interface WriteOptions {
  contentType?: string;
  userMetadata?: Record<string, string>;
  /** Known body length, when the client sent one. */
  contentLength?: number;
  signal?: AbortSignal;
  /**
   * Called once the whole body has been received and before the object becomes visible.
   * It returns the content MD5 (hex) the caller computed while streaming; throwing vetoes the
   * write and nothing is stored.
   */
  beforeCommit: () => Promise<{ md5Hex: string }> | { md5Hex: string };
}

export interface ListOptions {
  /** Only keys starting with this prefix. */
  prefix: string;
  /** Roll keys up at the first occurrence of this after the prefix (usually '/'). */
  delimiter?: string;
  /** Only keys (and common prefixes) strictly greater than this. */
  startAfter?: string;
  maxKeys: number;
}

export interface ListResult {
  /** Objects and folder objects ("dir/") in key order. */
  objects: UfsStatus[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned, for the next page's startAfter. */
  lastKey?: string;
}

export interface UnderFileSystem {
  /** The URI it was created from (credentials never appear here). */
  readonly uri: string;
  stat(key: string): Promise<UfsStatus | null>;
  read(key: string, opts?: ReadOptions): Promise<Readable>;
  write(key: string, body: Readable, opts: WriteOptions): Promise<UfsStatus>;
  /** Deletes an object; absent keys are not an error. Deleting "dir/" removes an empty directory or just its marker. */
  delete(key: string): Promise<void>;
  /** Creates a folder object "key/" (the key must end in '/'). */
  mkdir(key: string): Promise<void>;
  list(opts: ListOptions): Promise<ListResult>;
  /** Proves the store is usable: write, read back and delete a probe object, or only list when read-only. */
  probe(readOnly: boolean): Promise<void>;
  close(): Promise<void>;
}

/** Mount options (Alluxio's keys, seed 002) plus defaults from the process configuration. */
export interface UfsOptions {
  options: Record<string, string>;
  /** Where an adapter may stage data before committing it (local disk). */
  stagingDir: string;
}
