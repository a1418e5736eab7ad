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

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

/** An additional checksum S3 clients send and ask back (x-amz-checksum-*), base64. */
export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64 digest; composite (multipart) values carry a "-N" suffix. */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/**
 * What an object carries besides its bytes. Stores keep it with the object (a sidecar, or the
 * S3 object's own headers and metadata) so it survives restarts and follows copies.
 */
export interface ObjectMetadata {
  contentType?: string;
  /**
   * The other representation headers S3 stores, by lower-case name: content-encoding,
   * content-disposition, content-language, cache-control, expires.
   */
  headers?: Record<string, string>;
  /** x-amz-meta-* without the prefix, lower-case names. */
  userMetadata?: Record<string, string>;
  tags?: Record<string, string>;
  checksum?: StoredChecksum;
}

export const STORED_HEADERS = ['content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires'] as const;

export interface UfsStatus extends ObjectMetadata {
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

/** An object's status and its bytes, from one request (UnderFileSystem.open). */
export interface OpenedObject {
  status: UfsStatus;
  /** The whole object; destroy it to stop reading early. */
  body: Readable;
}

export interface CommitInfo {
  /** The content MD5 (hex) the caller computed while streaming. */
  md5Hex: string;
  /** The entity tag to store when it is not the MD5 (multipart: "md5-of-part-md5s-N"). */
  etag?: string;
  /** An additional checksum computed while streaming (validated by the caller). */
  checksum?: StoredChecksum;
}

export interface WriteOptions extends ObjectMetadata {
  /** Known body length, when the client sent one. */
  contentLength?: number;
  signal?: AbortSignal;
  /**
   * Called once the whole body has been received and before the object becomes visible.
   * It returns what the caller computed while streaming (MD5, entity tag, checksum); throwing
   * vetoes the write and nothing is stored. The caller may hold a per-key lock from here until
   * write() settles, so the check it makes here and the commit are atomic.
   */
  beforeCommit: () => Promise<CommitInfo> | CommitInfo;
}

/** A change to an object's metadata that leaves its bytes alone (tagging, self-copy with REPLACE). */
export interface MetadataUpdate {
  /** Replaces contentType, headers and userMetadata when given. */
  replace?: Pick<ObjectMetadata, 'contentType' | 'headers' | 'userMetadata'>;
  /** Replaces the tag set when given ({} removes every tag). */
  tags?: Record<string, string>;
}

/**
 * Optional capability: the store's own multipart upload, so parts pass straight through to it
 * (seed 000: pass-through is the default for S3 under storage). Part numbers are the client's.
 */
export interface UfsMultipart {
  createUpload(key: string, meta: ObjectMetadata): Promise<string>;
  uploadPart(key: string, uploadId: string, partNumber: number, body: Readable, opts: { contentLength?: number; md5Base64?: string; signal?: AbortSignal }): Promise<{ etag: string; size: number }>;
  /** Completes with the given parts (already validated by the caller); returns the new object. */
  completeUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<UfsStatus>;
  abortUpload(key: string, uploadId: string): Promise<void>;
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
  /**
   * Objects and folder objects ("dir/") in key order, with what S3 lists (key, size, mtime,
   * entity tag) and the fingerprint; content type, user metadata and tags come from stat().
   */
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
  /**
   * Present where a stat is a round trip of its own (S3): the status and the whole object from
   * one GET, the status taken from that response (so it describes exactly the bytes read).
   * Null when no such object exists. For objects, not directories ("dir/").
   */
  open?(key: string, opts?: { signal?: AbortSignal }): Promise<OpenedObject | null>;
  write(key: string, body: Readable, opts: WriteOptions): Promise<UfsStatus>;
  /** Deletes an object; absent keys are not an error. Deleting "dir/" removes an empty directory or just its marker. */
  delete(key: string): Promise<void>;
  /** Creates a folder object "key/" (the key must end in '/'). */
  mkdir(key: string): Promise<void>;
  list(opts: ListOptions): Promise<ListResult>;
  /** Changes metadata and/or tags in place; the bytes (and so the entity tag) stay. NotFound when absent. */
  updateMetadata(key: string, update: MetadataUpdate): Promise<UfsStatus>;
  /** Present when the store has its own multipart upload. */
  readonly multipart?: UfsMultipart;
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
