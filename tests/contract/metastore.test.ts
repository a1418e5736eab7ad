/**
 * The metastore contract (common/metastore/types.ts), run against every backend: the embedded
 * SQLite store in-process, the worker's RemoteMetastore over the coordinator's gRPC service
 * backed by SQLite, and FoundationDB when a cluster and its client library are present (the
 * FDB adapter's key layout and error mapping also run over an in-memory stand-in for the
 * `foundationdb` package, which is not FoundationDB and says so).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../common/log.js';
import { MetastoreError, strinc, type Metastore, type MetastoreError as MetastoreErrorType } from '../../common/metastore/types.js';
import { BufferedTransaction } from '../../common/metastore/buffered-transaction.js';
import {
  FdbMetastore,
  openFdbMetastore,
  type FdbDatabase,
  type FdbModule,
  type FdbTransaction,
  type FdbTransactionOptions,
} from '../../coordinator/metastore/fdb-store.js';
import { METASTORE_GRPC_SERVER_OPTIONS, metastoreServiceImpl } from '../../coordinator/metastore/grpc-service.js';
import { SqliteMetastore, type SqliteMetastoreOptions } from '../../coordinator/metastore/sqlite-store.js';
import { grpc, MetastoreService } from '../../proto/index.js';
import { RemoteMetastore } from '../../worker/cluster/metastore-client.js';

const MiB = 1024 * 1024;
const log = createLogger('metastore-test', 'fatal');

const b = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));
const str = (v: Buffer | undefined): string | undefined => v?.toString();

function metastoreError(code: MetastoreErrorType['code']) {
  return (err: unknown): true => {
    assert.ok(err instanceof MetastoreError, `expected a MetastoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

/** A promise and its resolver, for lining transactions up. */
async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

interface TooOldSubject {
  store: Metastore;
  /** Moves the store's horizon past every read version handed out so far. */
  churn(): Promise<void>;
  close(): Promise<void>;
}

interface Harness {
  store: Metastore;
  /** Closes the store (and its server) and opens it again over the same data. */
  reopen(): Promise<void>;
  /** A store whose conflict horizon moves fast, for the too-old path. */
  tooOld(): Promise<TooOldSubject>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Harnesses

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'alluxio-metastore-'));
}

/** Tombstones live 3 versions and are pruned after every commit. */
const FAST_HORIZON: SqliteMetastoreOptions = { tombstoneRetentionVersions: 3, pruneIntervalMs: 0 };

/** set + clear of throwaway keys: tombstones, then pruning, move the horizon forward. */
async function churnTombstones(store: Metastore): Promise<void> {
  for (let i = 0; i < 6; i++) {
    const key = b(`churn/${randomUUID()}`);
    await store.transact(async (tx) => tx.set(key, b('x')));
    await store.transact(async (tx) => tx.clear(key));
  }
}

async function sqliteHarness(): Promise<Harness> {
  const dir = await tempDir();
  const extra: string[] = [];
  const h: Harness = {
    store: SqliteMetastore.open(dir),
    async reopen() {
      await h.store.close();
      h.store = SqliteMetastore.open(dir);
    },
    async tooOld() {
      const d = await tempDir();
      extra.push(d);
      const store = SqliteMetastore.open(d, FAST_HORIZON);
      return { store, churn: () => churnTombstones(store), close: () => store.close() };
    },
    async close() {
      await h.store.close();
      for (const d of [dir, ...extra]) await rm(d, { recursive: true, force: true });
    },
  };
  return h;
}

interface Served {
  server: grpc.Server;
  address: string;
}

function serve(store: SqliteMetastore | FdbMetastore, address = '127.0.0.1:0'): Promise<Served> {
  const server = new grpc.Server(METASTORE_GRPC_SERVER_OPTIONS);
  server.addService(MetastoreService.service, metastoreServiceImpl(store, log));
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve({ server, address: `127.0.0.1:${port}` }),
    );
  });
}

function stop(served: Served): Promise<void> {
  return new Promise((resolve) => served.server.tryShutdown(() => resolve()));
}

async function remoteHarness(): Promise<Harness> {
  const dir = await tempDir();
  const extra: Array<() => Promise<void>> = [];
  let backend = SqliteMetastore.open(dir);
  let served = await serve(backend);
  const h: Harness = {
    store: new RemoteMetastore(served.address),
    async reopen() {
      await h.store.close();
      await stop(served);
      await backend.close();
      backend = SqliteMetastore.open(dir);
      served = await serve(backend);
      h.store = new RemoteMetastore(served.address);
    },
    async tooOld() {
      const d = await tempDir();
      const store = SqliteMetastore.open(d, FAST_HORIZON);
      const s = await serve(store);
      const client = new RemoteMetastore(s.address);
      const close = async () => {
        await client.close();
        await stop(s);
        await store.close();
        await rm(d, { recursive: true, force: true });
      };
      extra.push(close);
      return { store: client, churn: () => churnTombstones(client), close: async () => undefined };
    },
    async close() {
      await h.store.close();
      await stop(served);
      await backend.close();
      for (const c of extra) await c();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

// An in-memory stand-in for the `foundationdb` package: optimistic transactions over the SQLite
// store (read your writes, read conflict ranges, read versions), FoundationDB's 100,000-byte
// value limit and its error codes. It checks fdb-store.ts's layout (chunked large values,
// prefixes, clear ranges over chunks) and error mapping, not FoundationDB.
class FakeFdbError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

class FakeTn implements FdbTransaction {
  private readonly tx: BufferedTransaction;
  private rv: number | undefined;
  private committedVersion = -1;

  constructor(private readonly kv: SqliteMetastore) {
    this.tx = new BufferedTransaction(kv, () => this.rv ?? (this.rv = kv.readVersion()));
  }

  snapshot(): FdbTransaction {
    return this;
  }
  async get(key: Buffer) {
    return this.tx.get(key);
  }
  async getRangeAll(start: Buffer, end: Buffer, opts: { limit?: number; reverse?: boolean } = {}) {
    return (await this.tx.getRange(start, end, opts)).map((kv): [Buffer, Buffer] => [kv.key, kv.value]);
  }
  set(key: Buffer, value: Buffer) {
    if (value.length > 100_000) throw new FakeFdbError('Value length exceeds limit', 2103);
    this.tx.set(key, value);
  }
  clear(key: Buffer) {
    this.tx.clear(key);
  }
  clearRange(start: Buffer, end: Buffer) {
    this.tx.clearRange(start, end);
  }
  addReadConflictRange(start: Buffer, end: Buffer) {
    this.tx.reads.push({ begin: start, end });
  }
  setReadVersion(v: Buffer) {
    this.rv = Number(v.readBigInt64BE(0));
  }
  async getReadVersion() {
    const v = Buffer.alloc(8);
    v.writeBigInt64BE(BigInt(this.rv ?? (this.rv = this.kv.readVersion())));
    return v;
  }
  getCommittedVersion() {
    const v = Buffer.alloc(8);
    v.writeBigInt64BE(BigInt(this.committedVersion));
    return v;
  }
  async rawCommit() {
    const req = this.tx.finish();
    if (!req) return;
    if (req.reads.length > 0) req.readVersion = this.rv ?? 0;
    const res = this.kv.commit(req);
    if (!res.committed) throw new FakeFdbError(res.conflict === 'too_old' ? 'Transaction is too old to perform reads or be committed' : 'Transaction not committed due to conflict with another transaction', res.conflict === 'too_old' ? 1007 : 1020);
    this.committedVersion = res.version;
  }
  rawCancel() {}
}

function fakeFdbModule(kv: SqliteMetastore): FdbModule {
  const db: FdbDatabase = {
    rawCreateTransaction: () => new FakeTn(kv),
    async doTransaction<T>(body: (tn: FdbTransaction) => Promise<T>, opts: FdbTransactionOptions = {}) {
      for (let attempt = 0; ; attempt++) {
        const tn = new FakeTn(kv);
        try {
          const result = await body(tn);
          await tn.rawCommit();
          return result;
        } catch (err) {
          const retryable = err instanceof FakeFdbError && (err.code === 1020 || err.code === 1007);
          if (!retryable || attempt >= (opts.retry_limit ?? 100)) throw err;
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 2 ** attempt)));
        }
      }
    },
    close() {},
  };
  return { setAPIVersion() {}, open: () => db };
}

async function fakeFdbHarness(): Promise<Harness> {
  const dir = await tempDir();
  const extra: Array<() => Promise<void>> = [];
  let kv = SqliteMetastore.open(dir);
  const open = (k: SqliteMetastore) => openFdbMetastore('fake.cluster', { load: async () => fakeFdbModule(k) });
  const h: Harness = {
    store: await open(kv),
    async reopen() {
      await h.store.close();
      await kv.close();
      kv = SqliteMetastore.open(dir);
      h.store = await open(kv);
    },
    async tooOld() {
      const d = await tempDir();
      const k = SqliteMetastore.open(d, FAST_HORIZON);
      const store = await open(k);
      extra.push(async () => {
        await store.close();
        await k.close();
        await rm(d, { recursive: true, force: true });
      });
      return { store, churn: () => churnTombstones(store), close: async () => undefined };
    },
    async close() {
      await h.store.close();
      await kv.close();
      for (const c of extra) await c();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Over the fake, through the gRPC service and RemoteMetastore (read versions, conflict ranges). */
async function fakeFdbRemoteHarness(): Promise<Harness> {
  const dir = await tempDir();
  const kv = SqliteMetastore.open(dir);
  const fdb = await openFdbMetastore('fake.cluster', { load: async () => fakeFdbModule(kv) });
  const served = await serve(fdb);
  const extra: Array<() => Promise<void>> = [];
  const h: Harness = {
    store: new RemoteMetastore(served.address),
    async reopen() {
      await h.store.close();
      h.store = new RemoteMetastore(served.address);
    },
    async tooOld() {
      const d = await tempDir();
      const k = SqliteMetastore.open(d, FAST_HORIZON);
      const f = await openFdbMetastore('fake.cluster', { load: async () => fakeFdbModule(k) });
      const s = await serve(f);
      const client = new RemoteMetastore(s.address);
      extra.push(async () => {
        await client.close();
        await stop(s);
        await f.close();
        await k.close();
        await rm(d, { recursive: true, force: true });
      });
      return { store: client, churn: () => churnTombstones(client), close: async () => undefined };
    },
    async close() {
      await h.store.close();
      await stop(served);
      await fdb.close();
      await kv.close();
      for (const c of extra) await c();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

// A real FoundationDB: only with a cluster file and a client library that loads.
const FDB_CLUSTER_FILE = process.env.FDB_CLUSTER_FILE || process.env.ALLUXIO_FDB_CLUSTER_FILE || '';
const FDB_SKIP_NO_CLUSTER =
  'FoundationDB client library (libfdb_c) and cluster not present on this machine: the FDB contract run did not happen';

async function probeFdb(): Promise<string | undefined> {
  if (!FDB_CLUSTER_FILE) return FDB_SKIP_NO_CLUSTER + ' (set FDB_CLUSTER_FILE or ALLUXIO_FDB_CLUSTER_FILE to run it)';
  try {
    const store = await openFdbMetastore(FDB_CLUSTER_FILE);
    await store.close();
    return undefined;
  } catch (err) {
    return `FoundationDB at ${FDB_CLUSTER_FILE} could not be used (${(err as Error).message}): the FDB contract run did not happen`;
  }
}
const fdbSkip = await probeFdb();

async function realFdbHarness(remote: boolean): Promise<Harness> {
  // Every run writes under its own prefix and clears it at the end.
  const prefix = b(`alluxio-test/${randomUUID()}/`);
  let fdb = await openFdbMetastore(FDB_CLUSTER_FILE, { prefix });
  let served = remote ? await serve(fdb) : undefined;
  const h: Harness = {
    store: served ? new RemoteMetastore(served.address) : fdb,
    async reopen() {
      if (served) {
        await h.store.close();
        await stop(served);
      }
      await fdb.close();
      fdb = await openFdbMetastore(FDB_CLUSTER_FILE, { prefix });
      served = remote ? await serve(fdb) : undefined;
      h.store = served ? new RemoteMetastore(served.address) : fdb;
    },
    async tooOld() {
      // FoundationDB's read versions expire after 5 seconds.
      return { store: h.store, churn: () => new Promise((r) => setTimeout(r, 6_000)), close: async () => undefined };
    },
    async close() {
      await fdb.transact(async (tx) => tx.clearRange(b(''), b([0xff])));
      if (served) {
        await h.store.close();
        await stop(served);
      }
      await fdb.close();
    },
  };
  return h;
}

// ---------------------------------------------------------------------------------------------
// The contract

function contract(open: () => Promise<Harness>): void {
  let h: Harness;
  before(async () => {
    h = await open();
  });
  after(async () => {
    await h?.close();
  });

  /** Keys of one test live under their own prefix. */
  const space = () => {
    const p = b(`t/${randomUUID()}/`);
    return { p, k: (s: string | number[]) => Buffer.concat([p, b(s)]), end: strinc(p) };
  };

  it('set, get and clear, binary-safe; an empty value is a value', async () => {
    const { k } = space();
    const bin = Buffer.from([0, 1, 2, 0xfe, 0xff, 0]);
    await h.store.transact(async (tx) => {
      tx.set(k('a'), b('1'));
      tx.set(k([0, 0xff, 0]), bin);
      tx.set(k('empty'), Buffer.alloc(0));
    });
    await h.store.read(async (tx) => {
      assert.equal(str(await tx.get(k('a'))), '1');
      assert.deepEqual(await tx.get(k([0, 0xff, 0])), bin);
      assert.deepEqual(await tx.get(k('empty')), Buffer.alloc(0));
      assert.equal(await tx.get(k('missing')), undefined);
    });
    await h.store.transact(async (tx) => {
      tx.clear(k('a'));
      tx.clear(k('never-there'));
    });
    assert.equal(await h.store.read((tx) => tx.get(k('a'))), undefined);
    assert.deepEqual(await h.store.read((tx) => tx.get(k([0, 0xff, 0]))), bin);
  });

  it('transact returns the function\'s result; a value set is overwritten by the next', async () => {
    const { k } = space();
    assert.equal(await h.store.transact(async (tx) => { tx.set(k('x'), b('one')); return 42; }), 42);
    await h.store.transact(async (tx) => tx.set(k('x'), b('two')));
    assert.equal(str(await h.store.read((tx) => tx.get(k('x')))), 'two');
  });

  describe('ranges', () => {
    // Unsigned byte order: 0x00 < 0x01 < '0' < 'a' < 0x7f < 0x80 < 0xff, and a key before its extensions.
    const suffixes: number[][] = [[], [0x00], [0x00, 0x00], [0x00, 0xff], [0x01], [0x30], [0x61], [0x61, 0x00], [0x61, 0x62], [0x62], [0x7f], [0x80], [0xfe, 0xff], [0xff], [0xff, 0x00], [0xff, 0xff]];
    let s: ReturnType<typeof space>;
    let expected: Buffer[];

    before(async () => {
      s = space();
      expected = suffixes.map((x) => s.k(x)).sort(Buffer.compare);
      const shuffled = [...suffixes].sort(() => Math.random() - 0.5);
      await h.store.transact(async (tx) => {
        for (const x of shuffled) tx.set(s.k(x), Buffer.from(x));
        // Just outside the prefix on both sides.
        tx.set(s.end, b('after'));
        tx.set(s.p.subarray(0, s.p.length - 1), b('before'));
      });
    });

    it('a prefix range (strinc) returns every key under it in unsigned byte order', async () => {
      const all = await h.store.read((tx) => tx.getRange(s.p, s.end));
      assert.deepEqual(all.map((kv) => kv.key.toString('hex')), expected.map((x) => x.toString('hex')));
      for (const kv of all) assert.deepEqual(kv.value, kv.key.subarray(s.p.length));
    });

    it('begin is inclusive, end exclusive', async () => {
      const got = await h.store.read((tx) => tx.getRange(s.k([0x01]), s.k([0xff])));
      assert.deepEqual(got.map((kv) => [...kv.key.subarray(s.p.length)]), [[0x01], [0x30], [0x61], [0x61, 0x00], [0x61, 0x62], [0x62], [0x7f], [0x80], [0xfe, 0xff]]);
      assert.deepEqual(await h.store.read((tx) => tx.getRange(s.k('b'), s.k('b'))), []);
      assert.deepEqual(await h.store.read((tx) => tx.getRange(s.k('b'), s.k('a'))), []);
    });

    it('limit and reverse', async () => {
      const hex = (kvs: { key: Buffer }[]) => kvs.map((kv) => kv.key.toString('hex'));
      const first3 = await h.store.read((tx) => tx.getRange(s.p, s.end, { limit: 3 }));
      assert.deepEqual(hex(first3), hex(expected.slice(0, 3).map((key) => ({ key }))));
      const last3 = await h.store.read((tx) => tx.getRange(s.p, s.end, { limit: 3, reverse: true }));
      assert.deepEqual(hex(last3), hex(expected.slice(-3).reverse().map((key) => ({ key }))));
      const allReversed = await h.store.read((tx) => tx.getRange(s.p, s.end, { reverse: true }));
      assert.deepEqual(hex(allReversed), hex([...expected].reverse().map((key) => ({ key }))));
      const big = await h.store.read((tx) => tx.getRange(s.p, s.end, { limit: 1000 }));
      assert.equal(big.length, expected.length);
    });

    it('clearRange removes exactly [begin, end)', async () => {
      await h.store.transact(async (tx) => tx.clearRange(s.k('a'), s.k('b')));
      const left = await h.store.read((tx) => tx.getRange(s.p, s.end));
      const gone = new Set([[0x61], [0x61, 0x00], [0x61, 0x62]].map((x) => s.k(x).toString('hex')));
      assert.deepEqual(left.map((kv) => kv.key.toString('hex')), expected.filter((x) => !gone.has(x.toString('hex'))).map((x) => x.toString('hex')));
      // The neighbours outside the prefix are untouched by a prefix clear.
      await h.store.transact(async (tx) => tx.clearRange(s.p, s.end));
      assert.deepEqual(await h.store.read((tx) => tx.getRange(s.p, s.end)), []);
      assert.equal(str(await h.store.read((tx) => tx.get(s.end))), 'after');
      assert.equal(str(await h.store.read((tx) => tx.get(s.p.subarray(0, s.p.length - 1)))), 'before');
    });
  });

  it('reads inside a transaction see its own writes, clears and clear ranges', async () => {
    const { p, k, end } = space();
    await h.store.transact(async (tx) => {
      for (const n of [1, 2, 3, 4, 5]) tx.set(k(`k${n}`), b('old'));
    });
    const seen = await h.store.transact(async (tx) => {
      const out: Record<string, unknown> = {};
      tx.set(k('k3'), b('new'));
      tx.clear(k('k2'));
      tx.set(k('k6'), b('new'));
      out.get3 = str(await tx.get(k('k3')));
      out.get2 = str(await tx.get(k('k2')));
      const names = async (opts?: { limit?: number; reverse?: boolean }) =>
        (await tx.getRange(p, end, opts)).map((kv) => `${kv.key.subarray(p.length)}=${kv.value}`);
      out.all = await names();
      out.first2 = await names({ limit: 2 });
      out.last2 = await names({ limit: 2, reverse: true });
      tx.clearRange(k('k4'), k('k6'));
      out.afterClearRange = await names();
      out.get4 = str(await tx.get(k('k4')));
      tx.set(k('k5'), b('again'));
      out.afterSetInCleared = await names();
      out.reverseAfter = await names({ reverse: true, limit: 3 });
      return out;
    });
    assert.deepEqual(seen, {
      get3: 'new',
      get2: undefined,
      all: ['k1=old', 'k3=new', 'k4=old', 'k5=old', 'k6=new'],
      first2: ['k1=old', 'k3=new'],
      last2: ['k6=new', 'k5=old'],
      afterClearRange: ['k1=old', 'k3=new', 'k6=new'],
      get4: undefined,
      afterSetInCleared: ['k1=old', 'k3=new', 'k5=again', 'k6=new'],
      reverseAfter: ['k6=new', 'k5=again', 'k3=new'],
    });
    const committed = await h.store.read(async (tx) => (await tx.getRange(p, end)).map((kv) => `${kv.key.subarray(p.length)}=${kv.value}`));
    assert.deepEqual(committed, ['k1=old', 'k3=new', 'k5=again', 'k6=new']);
  });

  it('a limited range read skips keys the transaction cleared, reading further', async () => {
    const { p, k, end } = space();
    await h.store.transact(async (tx) => {
      for (let n = 0; n < 30; n++) tx.set(k(`k${String(n).padStart(2, '0')}`), b(String(n)));
    });
    const got = await h.store.transact(async (tx) => {
      tx.clearRange(k('k00'), k('k10'));
      for (let n = 10; n < 15; n++) tx.clear(k(`k${n}`));
      return (await tx.getRange(p, end, { limit: 3 })).map((kv) => kv.value.toString());
    });
    assert.deepEqual(got, ['15', '16', '17']);
  });

  it('a function that throws commits nothing', async () => {
    const { k, p, end } = space();
    await h.store.transact(async (tx) => tx.set(k('keep'), b('v1')));
    await assert.rejects(
      h.store.transact(async (tx) => {
        tx.set(k('keep'), b('v2'));
        for (let n = 0; n < 100; n++) tx.set(k(`n${n}`), b('x'));
        tx.clearRange(p, end);
        await tx.get(k('keep'));
        throw new Error('boom');
      }),
      /boom/,
    );
    const left = await h.store.read((tx) => tx.getRange(p, end));
    assert.deepEqual(left.map((kv) => `${kv.key.subarray(p.length)}=${kv.value}`), ['keep=v1']);
  });

  describe('conflicts', () => {
    it('two transactions read and write one key: one commits, the other runs again and sees its value', async () => {
      const { k } = space();
      await h.store.transact(async (tx) => tx.set(k('x'), b('0')));
      const bothRead = { a: gate(), b: gate() };
      const runs: string[] = [];
      const run = (me: 'a' | 'b', other: 'a' | 'b') =>
        h.store.transact(async (tx) => {
          const seen = str(await tx.get(k('x')))!;
          runs.push(`${me} saw ${seen}`);
          bothRead[me].open();
          await bothRead[other].wait;
          tx.set(k('x'), b(`${seen}+${me}`));
        });
      await Promise.all([run('a', 'b'), run('b', 'a')]);
      const final = str(await h.store.read((tx) => tx.get(k('x'))));
      assert.equal(runs.length, 3, `runs: ${runs.join('; ')}`);
      assert.deepEqual(runs.slice(0, 2).sort(), ['a saw 0', 'b saw 0']);
      // The loser's second run saw the winner's write and built on it.
      const [winner, loser] = final === '0+a+b' ? ['a', 'b'] : ['b', 'a'];
      assert.equal(final, `0+${winner}+${loser}`);
      assert.equal(runs[2], `${loser} saw 0+${winner}`);
    });

    it('50 concurrent increments of one counter end at exactly 50', async () => {
      const { k } = space();
      let attempts = 0;
      await Promise.all(
        Array.from({ length: 50 }, () =>
          h.store.transact(async (tx) => {
            attempts++;
            const n = Number(str(await tx.get(k('counter'))) ?? '0');
            tx.set(k('counter'), b(String(n + 1)));
          }),
        ),
      );
      assert.equal(str(await h.store.read((tx) => tx.get(k('counter')))), '50');
      assert.ok(attempts > 50, `conflicting increments must have run again (${attempts} runs)`);
    });

    it('a range read conflicts with an insert into the range, not with one outside it', async () => {
      const { k } = space();
      await h.store.transact(async (tx) => {
        tx.set(k('items/a'), b('1'));
        tx.set(k('items/b'), b('1'));
      });
      const countItems = async (insert: Buffer) => {
        let runs = 0;
        const count = await h.store.transact(async (tx) => {
          runs++;
          const items = await tx.getRange(k('items/'), k('items0'));
          if (runs === 1) await h.store.transact(async (other) => other.set(insert, b('1')));
          tx.set(k('count'), b(String(items.length)));
          return items.length;
        });
        return { runs, count };
      };
      assert.deepEqual(await countItems(k('other/z')), { runs: 1, count: 2 });
      assert.deepEqual(await countItems(k('items/c')), { runs: 2, count: 3 });
      assert.equal(str(await h.store.read((tx) => tx.get(k('count')))), '3');
    });

    it('a limited range read conflicts only up to the last key it returned', async () => {
      const { k } = space();
      await h.store.transact(async (tx) => {
        for (const n of ['a', 'b', 'c', 'd']) tx.set(k(`r/${n}`), b(n));
      });
      const firstTwo = async (insert: Buffer, reverse = false) => {
        let runs = 0;
        await h.store.transact(async (tx) => {
          runs++;
          await tx.getRange(k('r/'), k('r0'), { limit: 2, reverse });
          if (runs === 1) await h.store.transact(async (other) => other.set(insert, b('new')));
          tx.set(k('seen'), b(String(runs)));
        });
        return runs;
      };
      assert.equal(await firstTwo(k('r/c1')), 1, 'an insert after the second key returned does not conflict');
      assert.equal(await firstTwo(k('r/a1')), 2, 'an insert between the keys returned conflicts');
      assert.equal(await firstTwo(k('r/a0'), true), 1, 'reverse: an insert before the last key returned does not conflict');
      assert.equal(await firstTwo(k('r/d1'), true), 2, 'reverse: an insert inside the keys returned conflicts');
    });

    it('a read-only transaction never conflicts', async () => {
      const { k } = space();
      await h.store.transact(async (tx) => tx.set(k('x'), b('before')));
      let runs = 0;
      const seen = await h.store.transact(async (tx) => {
        runs++;
        const v = str(await tx.get(k('x')));
        await tx.getRange(k(''), k('~'));
        await h.store.transact(async (other) => other.set(k('x'), b('after')));
        return v;
      });
      assert.equal(runs, 1);
      assert.equal(seen, 'before');
      let readRuns = 0;
      await h.store.read(async (tx) => {
        readRuns++;
        await tx.get(k('x'));
        await h.store.transact(async (other) => other.set(k('x'), b('again')));
      });
      assert.equal(readRuns, 1);
    });

    it('a blind write (nothing read) never conflicts', async () => {
      const { k } = space();
      let runs = 0;
      await h.store.transact(async (tx) => {
        runs++;
        tx.set(k('x'), b('mine'));
        await h.store.transact(async (other) => other.set(k('x'), b('theirs')));
      });
      assert.equal(runs, 1);
      assert.equal(str(await h.store.read((tx) => tx.get(k('x')))), 'mine');
    });
  });

  it('values up to 1 MiB round-trip, in gets and in ranges; larger ones are refused', async () => {
    const { p, k, end } = space();
    const values = [randomBytes(MiB), randomBytes(MiB - 1), randomBytes(200_000), randomBytes(100_001)];
    await h.store.transact(async (tx) => values.forEach((v, i) => tx.set(k(`v${i}`), v)));
    await h.store.read(async (tx) => {
      for (const [i, v] of values.entries()) assert.ok(v.equals((await tx.get(k(`v${i}`)))!), `value ${i} (${v.length} bytes)`);
      const range = await tx.getRange(p, end);
      assert.deepEqual(range.map((kv) => kv.value.length), values.map((v) => v.length));
      assert.ok(range.every((kv, i) => kv.value.equals(values[i])));
    });
    // Overwrite a large value with a small one and back; clear ranges take large values with them.
    await h.store.transact(async (tx) => tx.set(k('v0'), b('small')));
    assert.equal(str(await h.store.read((tx) => tx.get(k('v0')))), 'small');
    await h.store.transact(async (tx) => tx.clearRange(p, end));
    assert.deepEqual(await h.store.read((tx) => tx.getRange(p, end)), []);
    await assert.rejects(h.store.transact(async (tx) => tx.set(k('huge'), Buffer.alloc(MiB + 1))), metastoreError('TooLarge'));
    await assert.rejects(
      h.store.transact(async (tx) => {
        for (let i = 0; i < 9; i++) tx.set(k(`big${i}`), Buffer.alloc(MiB));
      }),
      metastoreError('TooLarge'),
    );
    assert.deepEqual(await h.store.read((tx) => tx.getRange(p, end)), []);
  });

  it('a transaction used after its function returned is refused', async () => {
    const { k } = space();
    let leaked: { set(key: Buffer, value: Buffer): void } | undefined;
    await h.store.transact(async (tx) => {
      leaked = tx;
    });
    assert.throws(() => leaked!.set(k('late'), b('x')), metastoreError('Internal'));
  });

  it('a transaction whose read version fell behind the conflict horizon runs again and succeeds', async () => {
    const t = await h.tooOld();
    try {
      const key = b(`too-old/${randomUUID()}`);
      await t.store.transact(async (tx) => tx.set(key, b('0')));
      let runs = 0;
      await t.store.transact(async (tx) => {
        runs++;
        const n = Number(str(await tx.get(key)));
        if (runs === 1) await t.churn();
        tx.set(key, b(String(n + 1)));
      });
      assert.equal(runs, 2);
      assert.equal(str(await t.store.read((tx) => tx.get(key))), '1');
    } finally {
      await t.close();
    }
  });

  it('committed data survives closing and reopening the store', async () => {
    const { p, k, end } = space();
    const big = randomBytes(MiB);
    await h.store.transact(async (tx) => {
      tx.set(k('a'), b('1'));
      tx.set(k('big'), big);
      tx.set(k('gone'), b('x'));
    });
    await h.store.transact(async (tx) => tx.clear(k('gone')));
    await h.reopen();
    const after = await h.store.read((tx) => tx.getRange(p, end));
    assert.deepEqual(after.map((kv) => kv.key.subarray(p.length).toString()), ['a', 'big']);
    assert.ok(after[1].value.equals(big));
    // Versions go on from where they were: conflicts still work after the reopen.
    let runs = 0;
    await h.store.transact(async (tx) => {
      runs++;
      await tx.get(k('a'));
      if (runs === 1) await h.store.transact(async (other) => other.set(k('a'), b('2')));
      tx.set(k('b'), b('1'));
    });
    assert.equal(runs, 2);
  });
}

// ---------------------------------------------------------------------------------------------

describe('metastore contract', () => {
  describe('SQLite, in-process', () => contract(sqliteHarness));

  describe('SQLite through the coordinator gRPC service (RemoteMetastore)', () => {
    contract(remoteHarness);

    it('an unreachable coordinator is MetastoreError Unavailable', async () => {
      const dir = await tempDir();
      const store = SqliteMetastore.open(dir);
      const served = await serve(store);
      await stop(served);
      await store.close();
      await rm(dir, { recursive: true, force: true });
      const client = new RemoteMetastore(served.address);
      try {
        await assert.rejects(client.transact(async (tx) => tx.get(b('x'))), metastoreError('Unavailable'));
        await assert.rejects(client.transact(async (tx) => tx.set(b('x'), b('1'))), metastoreError('Unavailable'));
      } finally {
        await client.close();
      }
    });

    it('a worker\'s session survives a coordinator restart: calls in flight fail Unavailable, the next ones reconnect', async () => {
      const dir = await tempDir();
      let store = SqliteMetastore.open(dir);
      let served = await serve(store);
      const client = new RemoteMetastore(served.address, { retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
      try {
        await client.transact(async (tx) => tx.set(b('k'), b('1')));
        assert.equal(str(await client.read((tx) => tx.get(b('k')))), '1');
        // The coordinator goes away with the session open.
        served.server.forceShutdown();
        await store.close();
        await assert.rejects(client.transact(async (tx) => { await tx.get(b('k')); tx.set(b('k'), b('2')); }), metastoreError('Unavailable'));
        // And comes back on the same address with the same data.
        store = SqliteMetastore.open(dir);
        served = await serve(store, served.address);
        await waitUntil(async () => (await client.read((tx) => tx.get(b('k'))).then(str, () => undefined)) === '1');
        await client.transact(async (tx) => { assert.equal(str(await tx.get(b('k'))), '1'); tx.set(b('k'), b('3')); });
        assert.equal(str(await client.read((tx) => tx.get(b('k')))), '3');
      } finally {
        await client.close();
        await stop(served);
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('commits arriving together are applied as one group, each checked against the ones before it', async () => {
      const dir = await tempDir();
      const store = SqliteMetastore.open(dir);
      try {
        const v0 = store.readVersion();
        const results = store.commitMany([
          { readVersion: v0, reads: [], mutations: [{ type: 'set', key: b('a'), value: b('1') }] },
          // Read `a` at v0: the first commit of the group changed it since.
          { readVersion: v0, reads: [{ begin: b('a') }], mutations: [{ type: 'set', key: b('b'), value: b('x') }] },
          { readVersion: v0, reads: [{ begin: b('c') }], mutations: [{ type: 'set', key: b('c'), value: b('y') }] },
        ]);
        assert.deepEqual(results.map((r) => r.committed), [true, false, true]);
        // Applied, not yet acknowledged: the group's one sync is still to come.
        const synced = store.durable();
        assert.ok(synced instanceof Promise, 'a group is durable only after its sync');
        await synced;
        assert.equal(store.durable(), undefined);
        assert.equal(results[1]!.conflict, 'conflict');
        assert.ok(results[2]!.version > results[0]!.version);
        const rv = store.readVersion();
        assert.equal(rv, results[2]!.version);
        assert.equal(str(await store.get(b('b'), rv)), undefined);
        assert.equal(str(await store.get(b('c'), rv)), 'y');
        // A group the store refuses applies none of it and leaves the version where it was.
        assert.throws(() => store.commitMany([
          { readVersion: rv, reads: [], mutations: [{ type: 'set', key: b('d'), value: b('1') }] },
          { readVersion: rv, reads: [], mutations: [{ type: 'set', key: b('e'), value: Buffer.alloc(MiB + 1) }] },
        ]), metastoreError('TooLarge'));
        assert.equal(store.readVersion(), rv);
        assert.equal(await store.get(b('d'), rv), undefined);
        // A single commit is synced before it returns.
        store.commit({ readVersion: 0, reads: [], mutations: [{ type: 'set', key: b('single'), value: b('1') }] });
        assert.equal(store.durable(), undefined);
      } finally {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('many workers\' concurrent commits through the service all land, each exactly once', async () => {
      const dir = await tempDir();
      const store = SqliteMetastore.open(dir);
      const served = await serve(store);
      const clients = [0, 1, 2].map(() => new RemoteMetastore(served.address));
      try {
        await Promise.all(clients.flatMap((c, ci) => Array.from({ length: 40 }, (_, i) => c.transact(async (tx) => {
          const counter = Number(str(await tx.get(b('counter'))) ?? '0');
          tx.set(b('counter'), b(String(counter + 1)));
          tx.set(b(`item/${ci}/${i}`), b('1'));
        }))));
        assert.equal(str(await clients[0]!.read((tx) => tx.get(b('counter')))), '120');
        assert.equal((await clients[1]!.read((tx) => tx.getRange(b('item/'), strinc(b('item/'))))).length, 120);
      } finally {
        for (const c of clients) await c.close();
        await stop(served);
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('the service refuses oversized and malformed commits with INVALID_ARGUMENT', async () => {
      const dir = await tempDir();
      const store = SqliteMetastore.open(dir);
      const served = await serve(store);
      const client = new MetastoreService(served.address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 16 * MiB });
      const commit = (req: object) =>
        new Promise<unknown>((resolve, reject) =>
          (client as unknown as { Commit: Function }).Commit(req, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))),
        );
      try {
        await assert.rejects(commit({ read_version: 0, reads: [], mutations: [{ type: 'set', key: b('k'), value: Buffer.alloc(MiB + 1) }] }), (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
          assert.match(err.details, /TooLarge/);
          return true;
        });
        await assert.rejects(commit({ read_version: 0, reads: [], mutations: [{ type: 'upsert', key: b('k') }] }), (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
          return true;
        });
        assert.deepEqual(await commit({ read_version: 0, reads: [], mutations: [{ type: 'set', key: b('k'), value: b('v') }] }), { committed: true, version: 1, conflict: '' });
      } finally {
        client.close();
        await stop(served);
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it('a second process cannot open a SQLite metastore in use', async () => {
    const dir = await tempDir();
    const store = SqliteMetastore.open(dir);
    try {
      const { spawnSync } = await import('node:child_process');
      const script = `import('${new URL('../../coordinator/metastore/sqlite-store.js', import.meta.url).href}').then((m) => { try { m.SqliteMetastore.open(${JSON.stringify(dir)}); console.log('opened'); } catch (e) { console.log(e.code + ': ' + e.message); } })`;
      const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      assert.match(out.stdout, /^Unavailable: .*in use by another process/);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('FoundationDB adapter over an in-memory stand-in for the foundationdb package (not FoundationDB)', () => {
    describe('in-process', () => contract(fakeFdbHarness));
    describe('through the gRPC service (RemoteMetastore)', () => contract(fakeFdbRemoteHarness));

    it('without the client library, opening FoundationDB is MetastoreError Unavailable', async () => {
      await assert.rejects(
        openFdbMetastore('/nonexistent/fdb.cluster', {
          load: async () => {
            throw new Error('libfdb_c.so: cannot open shared object file');
          },
        }),
        (err: unknown) => {
          metastoreError('Unavailable')(err);
          assert.match((err as Error).message, /^FoundationDB client library not available: .*libfdb_c/);
          return true;
        },
      );
    });
  });

  // A skipped suite is not counted in the run's totals; this makes "skipped 1" say it there too.
  if (fdbSkip) it('FoundationDB contract run', { skip: fdbSkip }, () => {});
  describe('FoundationDB', fdbSkip ? { skip: fdbSkip } : {}, () => {
    describe('in-process', () => contract(() => realFdbHarness(false)));
    describe('through the gRPC service (RemoteMetastore)', () => contract(() => realFdbHarness(true)));
  });
});
