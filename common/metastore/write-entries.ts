/**
 * The write cache's records in the metastore (written by workers, read by the coordinator's
 * REST API too). Every unpersisted object has an entry keyed by
 * its namespace path; the worker responsible for persisting it has a queue key ordered by the
 * time of its next attempt, so a persister reads only what is due.
 *
 *   wc/o/<path>                          → WriteEntry (JSON)
 *   wc/q/<worker id>/<due ms, 15 digits>/<path> → path
 */
import type { ObjectMetadata } from '../ufs/types.js';
import { strinc, type Metastore, type ReadTransaction, type Transaction } from './types.js';

export type PersistenceState = 'NOT_PERSISTED' | 'TO_BE_PERSISTED' | 'PERSISTED';
export type CachePolicy = 'WRITE_BACK' | 'TRANSIENT';

export interface WriteEntry {
  path: string;
  bucket: string;
  key: string;
  /** One version of the object: names the data files on every holder. */
  writeId: string;
  size: number;
  md5Hex: string;
  etag: string;
  mtimeMs: number;
  meta: ObjectMetadata;
  policy: CachePolicy;
  state: PersistenceState;
  /** Workers holding the bytes: the writer first, then its replicas. */
  holders: string[];
  /** The worker that persists it (the writer, or a replica holder that took over). */
  persister: string;
  attempts: number;
  dueMs: number;
  /** A delete on a WRITE_BACK path: acknowledged at once, applied to the UFS by the persister. */
  deleted?: boolean;
  lastError?: string;
  createdMs: number;
}

const OBJ = 'wc/o/';
const QUEUE = 'wc/q/';

export function entryKey(path: string): Buffer {
  return Buffer.from(OBJ + path, 'utf8');
}

export function queueKey(worker: string, dueMs: number, path: string): Buffer {
  return Buffer.from(`${QUEUE}${worker}/${String(Math.max(0, Math.floor(dueMs))).padStart(15, '0')}/${path}`, 'utf8');
}

export async function getEntry(tx: ReadTransaction, path: string): Promise<WriteEntry | undefined> {
  const v = await tx.get(entryKey(path));
  return v ? (JSON.parse(v.toString('utf8')) as WriteEntry) : undefined;
}

/** Writes the entry and its queue key (TRANSIENT entries are never queued). */
export async function putEntry(tx: Transaction, entry: WriteEntry, previous?: WriteEntry): Promise<void> {
  if (previous && previous.policy === 'WRITE_BACK') tx.clear(queueKey(previous.persister, previous.dueMs, previous.path));
  tx.set(entryKey(entry.path), Buffer.from(JSON.stringify(entry), 'utf8'));
  if (entry.policy === 'WRITE_BACK') tx.set(queueKey(entry.persister, entry.dueMs, entry.path), Buffer.from(entry.path, 'utf8'));
}

export function clearEntry(tx: Transaction, entry: WriteEntry): void {
  tx.clear(entryKey(entry.path));
  if (entry.policy === 'WRITE_BACK') tx.clear(queueKey(entry.persister, entry.dueMs, entry.path));
}

/** Paths due for persistence by `worker` (due at or before `nowMs`). */
export async function dueForWorker(store: Metastore, worker: string, nowMs: number, limit: number): Promise<string[]> {
  const begin = Buffer.from(`${QUEUE}${worker}/`, 'utf8');
  const end = queueKey(worker, nowMs + 1, '');
  return store.read(async (tx) => (await tx.getRange(begin, end, { limit })).map((kv) => kv.value.toString('utf8')));
}

/** Entries under a namespace prefix, in key order, after `startAfter` (for listings). */
export async function entriesUnder(store: Metastore, prefix: string, startAfter: string, limit: number): Promise<WriteEntry[]> {
  const begin = Buffer.from(OBJ + (startAfter > prefix ? `${startAfter}\0` : prefix), 'utf8');
  const end = strinc(Buffer.from(OBJ + prefix, 'utf8'));
  return store.read(async (tx) => (await tx.getRange(begin, end, { limit })).map((kv) => JSON.parse(kv.value.toString('utf8')) as WriteEntry));
}

/** Entries from `beginPath` (inclusive) while their path starts with `prefix`, in key order. */
export async function entriesFrom(store: Metastore, beginPath: string, prefix: string, limit: number): Promise<WriteEntry[]> {
  const begin = Buffer.from(OBJ + beginPath, 'utf8');
  const end = strinc(Buffer.from(OBJ + prefix, 'utf8'));
  if (Buffer.compare(begin, end) >= 0) return [];
  return store.read(async (tx) => (await tx.getRange(begin, end, { limit })).map((kv) => JSON.parse(kv.value.toString('utf8')) as WriteEntry));
}

/** The first path after every path starting with `prefix` (to skip a rolled-up common prefix). */
export function pathAfterPrefix(prefix: string): string {
  return strinc(Buffer.from(prefix, 'utf8')).toString('utf8');
}

/** Every entry (for a takeover scan after a worker is lost, and for orphan checks). */
export async function allEntries(store: Metastore, limit = 0): Promise<WriteEntry[]> {
  const begin = Buffer.from(OBJ, 'utf8');
  return store.read(async (tx) => (await tx.getRange(begin, strinc(begin), { limit })).map((kv) => JSON.parse(kv.value.toString('utf8')) as WriteEntry));
}

/** Pending multipart uploads, by upload id: `wc/u/<bucket>/<key>\0<uploadId>` → UploadInfo JSON. */
const UPLOADS = 'wc/u/';

export function uploadKey(bucket: string, key: string, uploadId: string): Buffer {
  return Buffer.from(`${UPLOADS}${bucket}/${key}\0${uploadId}`, 'utf8');
}

/** Uploads of a bucket whose key starts with `prefix`, in key order. */
export async function uploadsUnder<T>(store: Metastore, bucket: string, prefix: string): Promise<T[]> {
  const begin = Buffer.from(`${UPLOADS}${bucket}/${prefix}`, 'utf8');
  return store.read(async (tx) => (await tx.getRange(begin, strinc(begin))).map((kv) => JSON.parse(kv.value.toString('utf8')) as T));
}
