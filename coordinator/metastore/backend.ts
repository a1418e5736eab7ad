/**
 * What the coordinator's metastore backends (SQLite, FoundationDB) offer beyond the
 * `Metastore` contract: the low-level, versioned operations the gRPC `Metastore` service maps
 * onto. A worker's transaction is a read version, reads at that version, and one commit that
 * names what was read (the conflict set) and what to write.
 */
import type { KeyValue, Metastore, RangeOptions } from '../../common/metastore/types.js';
import type { CommitRequest, CommitResult } from '../../common/metastore/commit.js';

export { MAX_KEY_BYTES, MAX_VALUE_BYTES, MAX_COMMIT_BYTES, checkKey, checkValue, checkCommitSize } from '../../common/metastore/commit.js';
export type { KeyRange, Mutation, CommitRequest, CommitResult } from '../../common/metastore/commit.js';

type MaybePromise<T> = T | Promise<T>;

export interface MetastoreBackend extends Metastore {
  readonly kind: 'sqlite' | 'foundationdb';
  /** The newest committed version; reads at it see every commit acknowledged so far. */
  readVersion(): MaybePromise<number>;
  get(key: Buffer, readVersion: number): MaybePromise<Buffer | undefined>;
  /** Pairs with begin <= key < end, in key order (or reverse), at most `limit` (0: all). */
  getRange(begin: Buffer, end: Buffer, opts: RangeOptions, readVersion: number): MaybePromise<KeyValue[]>;
  /** Checks the read set against the read version and, if nothing changed, applies the mutations atomically. */
  commit(req: CommitRequest): MaybePromise<CommitResult>;
  /**
   * Optional group commit: the requests checked and applied in order, as `commit` would one by
   * one; they are durable once `durable()` resolves, and must not be acknowledged before.
   * Throws (applying none) only when the batch itself fails.
   */
  commitMany?(reqs: CommitRequest[]): CommitResult[];
  /** With commitMany: resolves once everything applied is durable; undefined when it already is. */
  durable?(): Promise<void> | undefined;
}
