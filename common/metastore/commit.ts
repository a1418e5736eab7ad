/**
 * What one optimistic commit is made of, and the size limits every backend and client applies:
 * shared by the coordinator's backends and the worker's client (they meet in common/, not in
 * each other).
 */
import { MetastoreError } from './types.js';

/** Keys above this are refused (FoundationDB's own key limit). */
export const MAX_KEY_BYTES = 10_000;
/** Values above this are refused. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/**
 * Keys, values and read ranges of one commit together. 8 MiB, not 10: FoundationDB refuses
 * transactions over 10,000,000 bytes and counts its own overhead (chunk keys, conflict ranges).
 */
export const MAX_COMMIT_BYTES = 8 * 1024 * 1024;

/** A read recorded for conflict checking: the single key `begin` when `end` is absent or empty, else [begin, end). */
export interface KeyRange {
  begin: Buffer;
  end?: Buffer;
}

export type Mutation =
  | { type: 'set'; key: Buffer; value: Buffer }
  | { type: 'clear'; key: Buffer }
  | { type: 'clear_range'; key: Buffer; end: Buffer };

export interface CommitRequest {
  /** The version every read of the transaction was made at (ignored when `reads` is empty). */
  readVersion: number;
  reads: KeyRange[];
  /** Applied in order. */
  mutations: Mutation[];
}

export interface CommitResult {
  committed: boolean;
  /** The commit's version; for a refused or read-only commit, the store's current version. */
  version: number;
  /** Why not committed: something read changed since the read version, or the read version is past the conflict horizon. */
  conflict: '' | 'conflict' | 'too_old';
}

export function checkKey(key: Buffer, what = 'key'): void {
  if (key.length > MAX_KEY_BYTES) throw new MetastoreError('TooLarge', `${what} of ${key.length} bytes is over the ${MAX_KEY_BYTES}-byte limit`);
}

export function checkValue(value: Buffer): void {
  if (value.length > MAX_VALUE_BYTES) throw new MetastoreError('TooLarge', `value of ${value.length} bytes is over the ${MAX_VALUE_BYTES}-byte limit`);
}

/** Refuses a commit with an oversized key, value or total (MetastoreError 'TooLarge'). */
export function checkCommitSize(req: CommitRequest): void {
  let total = 0;
  for (const r of req.reads) {
    checkKey(r.begin);
    if (r.end) checkKey(r.end);
    total += r.begin.length + (r.end?.length ?? 0);
  }
  for (const m of req.mutations) {
    checkKey(m.key);
    total += m.key.length;
    if (m.type === 'set') {
      checkValue(m.value);
      total += m.value.length;
    } else if (m.type === 'clear_range') {
      checkKey(m.end);
      total += m.end.length;
    }
  }
  if (total > MAX_COMMIT_BYTES) throw new MetastoreError('TooLarge', `commit of ${total} bytes is over the ${MAX_COMMIT_BYTES}-byte limit`);
}
