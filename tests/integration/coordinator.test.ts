/**
 * The coordinator in-process on loopback port 0, driven the way workers and the CLI drive it:
 * a real gRPC client and HTTP fetch. Every test starts its own coordinator on its own data
 * dir and closes it.
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Config } from '../../common/config/config.js';
import { createLogger } from '../../common/log.js';
import { startCoordinator, type CoordinatorHandle } from '../../coordinator/main.js';
import {
  CoordinatorService,
  grpc,
  unary,
  type ClusterSnapshot,
  type HeartbeatResponse,
  type ListMountsResponse,
  type ListWorkersResponse,
  type MountInfo,
  type RegisterWorkerRequest,
  type RegisterWorkerResponse,
} from '../../proto/index.js';
import { freePort, waitFor } from '../helpers/ports.js';

const tempDirs: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `alluxio-coord-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}
after(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

interface Running {
  handle: CoordinatorHandle;
  client: grpc.Client;
  web: string;
  dataDir: string;
  /** Every log line the coordinator wrote, to check no secret ever reaches the log. */
  logText: () => string;
  close(): Promise<void>;
}

const running = new Set<Running>();
afterEach(async () => {
  for (const r of running) await r.close();
});

const FAST = {
  'alluxio.coordinator.worker.timeout': '60sec',
  'alluxio.coordinator.lost.worker.detection.interval': '50ms',
  'alluxio.coordinator.membership.batch.window': '20ms',
  'alluxio.worker.master.heartbeat.interval': '100ms',
};

async function start(opts: { dataDir?: string; conf?: Record<string, string> } = {}): Promise<Running> {
  const dataDir = opts.dataDir ?? (await tempDir('data'));
  const config = new Config(
    new Map(
      Object.entries({
        'alluxio.data.dir': dataDir,
        'alluxio.coordinator.hostname': '127.0.0.1',
        'alluxio.coordinator.rpc.port': '0',
        'alluxio.coordinator.web.port': '0',
        ...FAST,
        ...opts.conf,
      }),
    ),
  );
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const handle = await startCoordinator(config, createLogger('coordinator-test', 'debug', sink));
  const client = new CoordinatorService(`127.0.0.1:${handle.rpcPort}`, grpc.credentials.createInsecure());
  let closed = false;
  const r: Running = {
    handle,
    client,
    web: `http://127.0.0.1:${handle.webPort}`,
    dataDir,
    logText: () => lines.join(''),
    close: async () => {
      if (closed) return;
      closed = true;
      running.delete(r);
      client.close();
      await handle.close();
    },
  };
  running.add(r);
  return r;
}

function workerReq(id: string, s3Port = 29998): RegisterWorkerRequest {
  return {
    id,
    address: { host: '127.0.0.1', s3_port: s3Port, rpc_port: s3Port + 1, https_port: 0, web_port: s3Port + 2 },
    cache: { used_bytes: 1024, capacity_bytes: 1 << 30, pages: 1 },
    version: '0.1.0',
  };
}

const register = (r: Running, req: RegisterWorkerRequest) => unary<RegisterWorkerRequest, RegisterWorkerResponse>(r.client, 'RegisterWorker', req);
const heartbeat = (r: Running, id: string) =>
  unary<unknown, HeartbeatResponse>(r.client, 'Heartbeat', { id, cache: { used_bytes: 2048, capacity_bytes: 1 << 30, pages: 2 } });
const listWorkers = (r: Running) => unary<unknown, ListWorkersResponse>(r.client, 'ListWorkers', {});
const listMounts = (r: Running) => unary<unknown, ListMountsResponse>(r.client, 'ListMounts', {});
const addMount = (r: Running, mount: Partial<MountInfo>) =>
  unary<unknown, MountInfo>(r.client, 'AddMount', { mount: { options: {}, read_only: false, ...mount } }, 30_000);
const removeMount = (r: Running, p: string) => unary<unknown, unknown>(r.client, 'RemoveMount', { path: p });

async function getJson(r: Running, urlPath: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${r.web}${urlPath}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return { status: res.status, body: await res.json() };
}

async function expectCode(p: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<grpc.ServiceError> {
  let caught: grpc.ServiceError | undefined;
  try {
    await p;
  } catch (err) {
    caught = err as grpc.ServiceError;
  }
  assert.ok(caught, `expected gRPC status ${grpc.status[code]}, but the call succeeded`);
  assert.equal(grpc.status[caught.code], grpc.status[code], `unexpected status: ${caught.details}`);
  if (details) assert.match(caught.details, details);
  return caught;
}

/** An open WatchCluster stream that records every snapshot it receives. */
function watch(r: Running, workerId = 'test-watcher') {
  const call = (r.client as unknown as Record<string, (req: unknown) => grpc.ClientReadableStream<ClusterSnapshot>>).WatchCluster.call(r.client, {
    worker_id: workerId,
  });
  const snapshots: ClusterSnapshot[] = [];
  let ended = false;
  call.on('data', (s: ClusterSnapshot) => snapshots.push(s));
  call.on('error', () => undefined); // CANCELLED when we cancel; UNAVAILABLE when the coordinator closes
  call.on('end', () => {
    ended = true;
  });
  return {
    snapshots,
    ended: () => ended,
    /** The first snapshot (from `from` on) satisfying `pred`. */
    next: (what: string, pred: (s: ClusterSnapshot) => boolean, from = 0, timeoutMs = 5_000) =>
      waitFor(what, async () => snapshots.slice(from).find(pred), timeoutMs, 10),
    cancel: () => call.cancel(),
  };
}

const memberIds = (s: ClusterSnapshot) => s.members.map((m) => m.id);

describe('coordinator membership', () => {
  test('a registered worker is listed LIVE with its address and cache usage, over gRPC and REST', async () => {
    const r = await start();
    const res = await register(r, workerReq('worker-a'));
    const { cluster_secret: secret, ...rest } = res as typeof res & { cluster_secret?: string };
    assert.deepEqual(rest, { id: 'worker-a', heartbeat_interval_ms: 100 });
    // The secret workers authenticate each other with (worker/cluster/peer-http.ts).
    assert.match(secret ?? '', /^[0-9a-f]{64}$/);

    const list = await listWorkers(r);
    assert.equal(list.workers.length, 1);
    const w = list.workers[0];
    assert.equal(w.id, 'worker-a');
    assert.equal(w.state, 'LIVE');
    assert.deepEqual(w.address, { host: '127.0.0.1', s3_port: 29998, rpc_port: 29999, https_port: 0, web_port: 30000 });
    assert.deepEqual(w.cache, { used_bytes: 1024, capacity_bytes: 1 << 30, pages: 1 });
    assert.equal(w.version, '0.1.0');
    assert.ok(list.cluster_version >= 1);

    await heartbeat(r, 'worker-a');
    const afterBeat = await listWorkers(r);
    assert.equal(afterBeat.workers[0].cache.used_bytes, 2048, 'a heartbeat updates cache usage');

    const { status, body } = await getJson(r, '/api/v1/workers');
    assert.equal(status, 200);
    assert.equal(body.version, afterBeat.cluster_version);
    assert.equal(body.workers[0].id, 'worker-a');
    assert.equal(body.workers[0].state, 'LIVE');
    assert.equal(body.workers[0].address.s3_port, 29998);
    assert.equal(body.workers[0].cache.used_bytes, 2048);
  });

  test('registration without an id is refused', async () => {
    const r = await start();
    await expectCode(register(r, workerReq('')), grpc.status.INVALID_ARGUMENT, /id/);
  });

  test('a worker re-registering with a new address is moved, not duplicated', async () => {
    const r = await start();
    await register(r, workerReq('worker-a', 30000));
    const before = (await listWorkers(r)).cluster_version;
    await register(r, workerReq('worker-a', 31000));
    const list = await listWorkers(r);
    assert.equal(list.workers.length, 1);
    assert.equal(list.workers[0].address.s3_port, 31000);
    assert.ok(list.cluster_version > before);
  });

  test('a heartbeat from an unknown worker asks it to register again', async () => {
    const r = await start();
    const res = await heartbeat(r, 'never-registered');
    assert.equal(res.reregister, true);
    await register(r, workerReq('now-registered'));
    assert.equal((await heartbeat(r, 'now-registered')).reregister, false);
  });

  test('WatchCluster starts with a snapshot and sends a newer one when a worker joins', async () => {
    const r = await start();
    await register(r, workerReq('worker-b', 30100));
    const w = watch(r);
    const first = await w.next('the first snapshot', () => true);
    assert.deepEqual(memberIds(first), ['worker-b']);
    assert.equal(first.members[0].address.s3_port, 30100);
    assert.ok(first.mounts.some((m) => m.path === '/'), 'the snapshot carries the mount table');

    await register(r, workerReq('worker-a', 30200));
    const second = await w.next('a snapshot with two members', (s) => s.members.length === 2);
    assert.deepEqual(memberIds(second), ['worker-a', 'worker-b'], 'members are sorted by id');
    assert.ok(second.version > first.version);
    w.cancel();
  });

  test('changes within the batch window reach watchers as one snapshot', async () => {
    const r = await start({ conf: { 'alluxio.coordinator.membership.batch.window': '300ms' } });
    const w = watch(r);
    await w.next('the first snapshot', () => true);
    await Promise.all(['w1', 'w2', 'w3'].map((id, i) => register(r, workerReq(id, 30300 + 10 * i))));
    const burst = await w.next('a snapshot with three members', (s) => s.members.length === 3);
    assert.equal(w.snapshots.length, 2, `expected the initial snapshot and one batched update, got versions ${w.snapshots.map((s) => s.version)}`);
    assert.equal(burst.version, (await listWorkers(r)).cluster_version);
    w.cancel();
  });

  test('a silent worker becomes LOST and leaves the ring, and comes back when it heartbeats', async () => {
    const r = await start({ conf: { 'alluxio.coordinator.worker.timeout': '300ms' } });
    await register(r, workerReq('steady', 30400));
    await register(r, workerReq('silent', 30500));
    const w = watch(r);
    const initial = await w.next('both members', (s) => s.members.length === 2);

    // Keep one worker alive; the other says nothing.
    const beat = setInterval(() => void heartbeat(r, 'steady').catch(() => undefined), 50);
    try {
      const lost = await w.next('a snapshot without the silent worker', (s) => !memberIds(s).includes('silent'));
      assert.deepEqual(memberIds(lost), ['steady']);
      assert.ok(lost.version > initial.version);
      const list = await listWorkers(r);
      assert.equal(list.workers.find((x) => x.id === 'silent')?.state, 'LOST');
      assert.equal(list.workers.find((x) => x.id === 'steady')?.state, 'LIVE');
      assert.equal(list.workers.length, 2, 'a LOST worker is still known');

      const res = await heartbeat(r, 'silent');
      assert.equal(res.reregister, false);
      const back = await w.next('the silent worker back', (s) => memberIds(s).includes('silent'), w.snapshots.indexOf(lost));
      assert.ok(back.version > lost.version);
      assert.equal((await listWorkers(r)).workers.find((x) => x.id === 'silent')?.state, 'LIVE');
      assert.match(r.logText(), /worker lost/);
      assert.match(r.logText(), /worker back/);
    } finally {
      clearInterval(beat);
      w.cancel();
    }
  });

  test('an unregistered worker is forgotten at once', async () => {
    const r = await start();
    await register(r, workerReq('leaver'));
    await register(r, workerReq('stayer', 30600));
    const w = watch(r);
    await w.next('both members', (s) => s.members.length === 2);
    await unary(r.client, 'UnregisterWorker', { id: 'leaver' });
    const gone = await w.next('a snapshot without the leaver', (s) => !memberIds(s).includes('leaver'));
    assert.deepEqual(memberIds(gone), ['stayer']);
    assert.deepEqual((await listWorkers(r)).workers.map((x) => x.id), ['stayer']);
    assert.equal((await heartbeat(r, 'leaver')).reregister, true);
    w.cancel();
  });

  test('closing the coordinator ends open watch streams', async () => {
    const r = await start();
    const w = watch(r);
    await w.next('the first snapshot', () => true);
    const started = Date.now();
    await r.close();
    assert.ok(Date.now() - started < 1_500, 'close does not wait out the shutdown grace period');
    await waitFor('the stream to end', async () => w.ended(), 2_000, 10);
  });
});

describe('coordinator mount table', () => {
  test('the root mount defaults to <data dir>/ufs, created on start, and cannot be removed', async () => {
    const r = await start();
    const { mounts } = await listMounts(r);
    const root = mounts.find((m) => m.path === '/');
    assert.ok(root);
    assert.equal(root.ufs_uri, `file://${path.join(r.dataDir, 'ufs')}`);
    assert.equal(root.read_only, false);
    assert.ok((await stat(path.join(r.dataDir, 'ufs'))).isDirectory());
    await expectCode(removeMount(r, '/'), grpc.status.FAILED_PRECONDITION, /root/);
  });

  test('the root mount follows the configuration: a plain path becomes file://, read-only is kept', async () => {
    const rootDir = await tempDir('root-ufs');
    const r = await start({ conf: { 'alluxio.master.mount.table.root.ufs': rootDir, 'alluxio.master.mount.table.root.readonly': 'true' } });
    const root = (await listMounts(r)).mounts.find((m) => m.path === '/');
    assert.deepEqual(root, { path: '/', ufs_uri: `file://${rootDir}`, options: {}, read_only: true });
  });

  test('a local directory can be mounted, listed and removed', async () => {
    const r = await start();
    const ufsDir = await tempDir('ufs');
    const added = await addMount(r, { path: '/photos', ufs_uri: ufsDir, read_only: true });
    assert.deepEqual(added, { path: '/photos', ufs_uri: `file://${ufsDir}`, options: {}, read_only: true });

    const { mounts } = await listMounts(r);
    assert.deepEqual(mounts.map((m) => m.path), ['/', '/photos']);
    assert.deepEqual(mounts[1], added);

    const w = watch(r);
    const first = await w.next('a snapshot with the mount', (s) => s.mounts.some((m) => m.path === '/photos'));
    await removeMount(r, '/photos');
    const gone = await w.next('a snapshot without the mount', (s) => !s.mounts.some((m) => m.path === '/photos'));
    assert.ok(gone.version > first.version);
    assert.deepEqual((await listMounts(r)).mounts.map((m) => m.path), ['/']);
    await expectCode(removeMount(r, '/photos'), grpc.status.NOT_FOUND, /not mounted/);
    w.cancel();
  });

  test('bad mount paths, unknown or malformed options and duplicates are refused with the right codes', async () => {
    const r = await start();
    const ufsDir = await tempDir('ufs');
    for (const bad of ['photos', '/a/b', '/ab', '/Photos', '/-photos', '/photos-', '/pho_tos', `/${'x'.repeat(64)}`, '']) {
      await expectCode(addMount(r, { path: bad, ufs_uri: ufsDir }), grpc.status.INVALID_ARGUMENT, /mount path/);
    }
    await expectCode(addMount(r, { path: '/', ufs_uri: ufsDir }), grpc.status.INVALID_ARGUMENT, /root/);
    await expectCode(
      addMount(r, { path: '/data', ufs_uri: ufsDir, options: { 'alluxio.underfs.s3.no.such.option': 'x' } }),
      grpc.status.INVALID_ARGUMENT,
      /alluxio\.underfs\.s3\.no\.such\.option/,
    );
    await expectCode(
      addMount(r, { path: '/data', ufs_uri: ufsDir, options: { 'alluxio.underfs.s3.upload.threads.max': 'many' } }),
      grpc.status.INVALID_ARGUMENT,
      /upload\.threads\.max/,
    );
    await expectCode(addMount(r, { path: '/data', ufs_uri: 'relative/dir' }), grpc.status.INVALID_ARGUMENT, /absolute/);
    await expectCode(addMount(r, { path: '/data', ufs_uri: '' }), grpc.status.INVALID_ARGUMENT, /ufs_uri/);

    await addMount(r, { path: '/data', ufs_uri: ufsDir });
    await expectCode(addMount(r, { path: '/data', ufs_uri: ufsDir }), grpc.status.ALREADY_EXISTS, /already mounted/);
    assert.deepEqual((await listMounts(r)).mounts.map((m) => m.path), ['/', '/data']);
  });

  test('a UFS that fails its probe is not mounted', async () => {
    const r = await start();
    const missing = path.join(await tempDir('ufs'), 'does-not-exist');
    const err = await expectCode(addMount(r, { path: '/missing', ufs_uri: missing }), grpc.status.FAILED_PRECONDITION);
    assert.match(err.details, new RegExp(`^cannot mount file://${missing} at /missing: `));
    assert.deepEqual((await listMounts(r)).mounts.map((m) => m.path), ['/']);
  });

  test('an S3 mount whose endpoint refuses connections is refused quickly', async () => {
    const r = await start();
    const closedPort = await freePort();
    const started = Date.now();
    const err = await expectCode(
      addMount(r, {
        path: '/remote',
        ufs_uri: 's3://no-such-bucket/prefix',
        options: {
          'alluxio.underfs.s3.endpoint': `http://127.0.0.1:${closedPort}`,
          'alluxio.underfs.s3.endpoint.region': 'us-east-1',
          'alluxio.underfs.s3.disable.dns.buckets': 'true',
          'aws.accessKeyId': 'AKIDEXAMPLE',
          'aws.secretKey': 'closed-port-secret',
        },
      }),
      grpc.status.FAILED_PRECONDITION,
      /^cannot mount s3:\/\/no-such-bucket\/prefix at \/remote: /,
    );
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    assert.doesNotMatch(err.details, /closed-port-secret/);
    assert.deepEqual((await listMounts(r)).mounts.map((m) => m.path), ['/']);
    assert.doesNotMatch(r.logText(), /closed-port-secret/);
  });

  test('secret options are redacted in ListMounts, the REST API and the log, but not in the watch snapshot', async () => {
    const r = await start();
    const ufsDir = await tempDir('ufs');
    const options = {
      'aws.accessKeyId': 'AKIAIOSFODNN7EXAMPLE',
      'aws.secretKey': 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY',
      'alluxio.underfs.s3.endpoint': 'http://127.0.0.1:9000',
    };
    const redacted = { ...options, 'aws.accessKeyId': '******', 'aws.secretKey': '******' };
    const added = await addMount(r, { path: '/secure', ufs_uri: ufsDir, options });
    assert.deepEqual(added.options, redacted);

    const listed = (await listMounts(r)).mounts.find((m) => m.path === '/secure');
    assert.deepEqual(listed?.options, redacted);

    const rest = await getJson(r, '/api/v1/mounts');
    assert.equal(rest.status, 200);
    assert.deepEqual(rest.body.mounts.find((m: MountInfo) => m.path === '/secure').options, redacted);
    const cluster = await getJson(r, '/api/v1/cluster');
    assert.deepEqual(cluster.body.mounts.find((m: MountInfo) => m.path === '/secure').options, redacted);

    const w = watch(r);
    const snap = await w.next('a snapshot with the mount', (s) => s.mounts.some((m) => m.path === '/secure'));
    assert.deepEqual(snap.mounts.find((m) => m.path === '/secure')?.options, options, 'workers need the credentials');
    w.cancel();

    for (const secret of [options['aws.accessKeyId'], options['aws.secretKey']]) {
      assert.ok(!r.logText().includes(secret), 'a secret reached the log');
      assert.ok(!JSON.stringify(rest.body).includes(secret));
    }
  });
});

describe('coordinator persistence', () => {
  test('mounts, workers and the version survive a restart', async () => {
    const dataDir = await tempDir('data');
    const ufsDir = await tempDir('ufs');
    const first = await start({ dataDir });
    await register(first, workerReq('worker-a', 30700));
    await register(first, workerReq('worker-b', 30800));
    await addMount(first, { path: '/kept', ufs_uri: ufsDir, options: { 'aws.secretKey': 'kept-secret' }, read_only: true });
    const versionBefore = (await listWorkers(first)).cluster_version;
    await first.close();

    const stateFile = path.join(dataDir, 'coordinator', 'state.json');
    assert.equal((await stat(stateFile)).mode & 0o777, 0o600, 'the state holds credentials: owner-only');

    const second = await start({ dataDir });
    const workers = await listWorkers(second);
    assert.deepEqual(workers.workers.map((w) => [w.id, w.state, w.address.s3_port]), [
      ['worker-a', 'LIVE', 30700],
      ['worker-b', 'LIVE', 30800],
    ]);
    assert.ok(workers.cluster_version > versionBefore, `version ${workers.cluster_version} after restart, ${versionBefore} before`);

    const w = watch(second);
    const snap = await w.next('the first snapshot', () => true);
    assert.deepEqual(memberIds(snap), ['worker-a', 'worker-b'], 'known workers stay in the ring while they reconnect');
    assert.ok(snap.version > versionBefore);
    assert.deepEqual(snap.mounts.find((m) => m.path === '/kept'), {
      path: '/kept',
      ufs_uri: `file://${ufsDir}`,
      options: { 'aws.secretKey': 'kept-secret' },
      read_only: true,
    });
    w.cancel();
    assert.equal((await heartbeat(second, 'worker-a')).reregister, false, 'a persisted worker need not register again');
    const health = await getJson(second, '/health');
    assert.equal(health.body.version, workers.cluster_version);
  });

  test('a persisted LIVE worker that never comes back is marked LOST after the timeout', async () => {
    const dataDir = await tempDir('data');
    const first = await start({ dataDir });
    await register(first, workerReq('gone'));
    await first.close();

    const second = await start({ dataDir, conf: { 'alluxio.coordinator.worker.timeout': '300ms' } });
    assert.equal((await listWorkers(second)).workers[0].state, 'LIVE');
    await waitFor('the worker to be marked LOST', async () => (await listWorkers(second)).workers[0].state === 'LOST', 5_000, 20);
  });

  test('a corrupt state file stops the start with a clear error and is left untouched', async () => {
    const dataDir = await tempDir('data');
    const first = await start({ dataDir });
    await first.close();
    const stateFile = path.join(dataDir, 'coordinator', 'state.json');
    await writeFile(stateFile, '{"format": 1, "version": 3, "mounts": [');
    await assert.rejects(start({ dataDir }), (err: Error) => {
      assert.match(err.message, /state\.json is corrupt/);
      return true;
    });
    assert.equal(await readFile(stateFile, 'utf8'), '{"format": 1, "version": 3, "mounts": [');

    await writeFile(stateFile, JSON.stringify({ format: 1, version: 3, mounts: [{ path: '/x' }], workers: [] }));
    await assert.rejects(start({ dataDir }), /state\.mounts\[0\]\.\w+ is not a/);
  });
});

describe('coordinator REST API', () => {
  test('health, cluster view and JSON errors', async () => {
    const r = await start();
    await register(r, workerReq('worker-a'));
    const ufsDir = await tempDir('ufs');
    await addMount(r, { path: '/rest-bucket', ufs_uri: ufsDir });
    const version = (await listWorkers(r)).cluster_version;

    const health = await getJson(r, '/health');
    assert.deepEqual(health, { status: 200, body: { status: 'ok', version } });

    const cluster = await getJson(r, '/api/v1/cluster');
    assert.equal(cluster.status, 200);
    assert.equal(cluster.body.version, version);
    assert.deepEqual(cluster.body.workers.map((w: { id: string; state: string }) => [w.id, w.state]), [['worker-a', 'LIVE']]);
    assert.deepEqual(cluster.body.mounts.map((m: MountInfo) => m.path), ['/', '/rest-bucket']);

    const missing = await getJson(r, '/api/v1/nope');
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /no such endpoint/);
  });
});
