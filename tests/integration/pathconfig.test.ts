/**
 * Path-level write policies kept by the coordinator (seed 004).
 *
 * First in-process: the store over ClusterState with its state.json, the PathConfig gRPC
 * service and the REST routes, and the snapshots WatchCluster sends. Then through a real
 * cluster (coordinator and worker processes, the built CLI): set/resolve/show/edit, an invalid
 * edit that changes nothing, every worker getting the change within a second, and the document
 * surviving a coordinator restart.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../common/log.js';
import { ClusterState } from '../../coordinator/cluster-state.js';
import { pathConfigServiceImpl } from '../../coordinator/grpc-service.js';
import { PathConfigStore } from '../../coordinator/path-config-store.js';
import { createRestApi } from '../../coordinator/rest-api.js';
import { CorruptStateError, StateStore } from '../../coordinator/state-store.js';
import { WatchHub } from '../../coordinator/watch-hub.js';
import { grpc, PathConfigService, unary, type ClusterSnapshot, type MountInfo, type PathConfigDocument, type ResolvedPolicy } from '../../proto/index.js';
import { runCli, startCluster, tempDir as clusterTempDir, type TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/ports.js';

const EXAMPLE = {
  default: { policyMode: 'WRITE_THROUGH' },
  rules: [
    { path: '/ckpt', policyMode: 'WRITE_BACK', writeReplicas: 2 },
    { path: '/shuffle', policyMode: 'TRANSIENT', writeReplicas: 2 },
  ],
};
const DEFAULT_DOC = { default: { policyMode: 'WRITE_THROUGH' }, rules: [] };

const tempDirs: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `alluxio-pathconfig-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}
after(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

const quiet = createLogger('pathconfig-test', 'fatal', new Writable({ write: (_c, _e, cb) => cb() }));

// ---------------------------------------------------------------------------------------------
// In-process: the coordinator's pieces, wired the way main.ts wires them.

interface Mini {
  dir: string;
  state: ClusterState;
  store: PathConfigStore;
  hub: WatchHub;
  client: grpc.Client;
  web: string;
  close(): Promise<void>;
}

const minis = new Set<Mini>();
afterEach(async () => {
  for (const m of minis) await m.close();
});

async function mini(opts: { dir?: string; writeCacheEnabled?: boolean } = {}): Promise<Mini> {
  const dir = opts.dir ?? (await tempDir('state'));
  const root: MountInfo = { path: '/', ufs_uri: `file://${dir}/ufs`, options: {}, read_only: false };
  const state = await ClusterState.open(new StateStore(dir, quiet), root, quiet, { writeCacheEnabled: opts.writeCacheEnabled });
  const store = new PathConfigStore(state, quiet);
  const hub = new WatchHub(state, 20, quiet);
  const server = new grpc.Server();
  server.addService(PathConfigService.service, pathConfigServiceImpl(store, quiet));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new PathConfigService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  // Membership and mounts are not used by the path config routes.
  const httpServer = http.createServer(createRestApi({ state, membership: undefined as never, mounts: undefined as never, pathConfig: store }, quiet));
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const m: Mini = {
    dir,
    state,
    store,
    hub,
    client,
    web: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`,
    close: async () => {
      minis.delete(m);
      hub.close();
      client.close();
      server.forceShutdown();
      httpServer.closeAllConnections();
      await new Promise((r) => httpServer.close(r));
      await state.flush();
    },
  };
  minis.add(m);
  return m;
}

async function expectStatus(p: Promise<unknown>, code: grpc.status, details: RegExp): Promise<void> {
  await assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(grpc.status[err.code], grpc.status[code], err.details);
    assert.match(err.details, details);
    return true;
  });
}

describe('path config in the coordinator (in-process)', () => {
  it('starts with the built-in default (version 1) and publishes it with write_cache_enabled', async () => {
    const m = await mini({ writeCacheEnabled: true });
    assert.deepEqual(JSON.parse(m.store.get().json), DEFAULT_DOC);
    assert.equal(m.store.get().version, 1);
    const snap = m.state.publishedSnapshot();
    assert.deepEqual(snap.path_config, m.store.get());
    assert.equal(snap.write_cache_enabled, true);
    const off = await mini();
    assert.equal(off.state.publishedSnapshot().write_cache_enabled, false);
  });

  it('a valid document is applied with a new version and a cluster version bump; watchers get it', async () => {
    const m = await mini();
    const seen: ClusterSnapshot[] = [];
    m.hub.add({ send: (s) => seen.push(s), end: () => undefined }, 'test');
    const clusterBefore = m.state.clusterVersion;
    const res = await m.store.set(JSON.stringify(EXAMPLE));
    assert.equal(res.version, 2);
    assert.deepEqual(JSON.parse(res.json), EXAMPLE);
    assert.equal(m.state.clusterVersion, clusterBefore + 1);
    const snap = await waitFor('a snapshot with the new path config', async () => seen.find((s) => s.path_config?.version === 2), 2_000, 5);
    assert.equal(snap.version, clusterBefore + 1);
    assert.deepEqual(JSON.parse(snap.path_config!.json), EXAMPLE);
    assert.equal(m.store.resolve('/ckpt/model.bin').policyMode, 'WRITE_BACK');

    // The same document again (even formatted differently) is not a change.
    const again = await m.store.set(JSON.stringify(EXAMPLE, null, 8));
    assert.equal(again.version, 2);
    assert.equal(m.state.clusterVersion, clusterBefore + 1);
  });

  it('an invalid document changes nothing: not the document, its version, the cluster version or state.json', async () => {
    const m = await mini();
    await m.store.set(JSON.stringify(EXAMPLE));
    await m.state.flush();
    const file = await readFile(path.join(m.dir, 'state.json'), 'utf8');
    const doc = m.store.get();
    const cluster = m.state.clusterVersion;
    const bad = structuredClone(EXAMPLE) as { rules: Array<Record<string, unknown>> };
    bad.rules.push({ path: '/x', policyMode: 'WRITE_BACK', writeReplicas: 0 });
    for (const [text, reason] of [
      ['{"rules": [', /^invalid path config: not valid JSON at line 1, column 12 \(position 11\)/],
      [JSON.stringify(bad), /^invalid path config: rules\[2\]\.writeReplicas must be an integer >= 1, got 0$/],
      ['{"rules": [{"path": "/a", "policyMode": "FAST"}]}', /^invalid path config: rules\[0\]\.policyMode "FAST" is not a policy mode \(expected one of WRITE_THROUGH, WRITE_BACK, TRANSIENT, READ_ONLY, NO_CACHE\)$/],
    ] as const) {
      await assert.rejects(m.store.set(text), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, reason);
        return true;
      });
    }
    assert.deepEqual(m.store.get(), doc);
    assert.equal(m.state.clusterVersion, cluster);
    await m.state.flush();
    assert.equal(await readFile(path.join(m.dir, 'state.json'), 'utf8'), file);
  });

  it('a change based on an old version is refused (FAILED_PRECONDITION)', async () => {
    const m = await mini();
    const first = await m.store.set(JSON.stringify(EXAMPLE), { expectedVersion: 1 });
    assert.equal(first.version, 2);
    await assert.rejects(m.store.set(JSON.stringify(DEFAULT_DOC), { expectedVersion: 1 }), /changed since version 1 was read \(it is now version 2\)/);
    assert.equal(m.store.get().version, 2);
  });

  it('the document and its version survive a restart; files without one load with the default', async () => {
    const dir = await tempDir('restart');
    const a = await mini({ dir });
    await a.store.set(JSON.stringify({ ...EXAMPLE, comment: 'kept' }));
    const saved = a.store.get();
    await a.close();
    const b = await mini({ dir });
    assert.deepEqual(b.store.get(), saved);
    assert.equal(JSON.parse(b.store.get().json).comment, 'kept');
    assert.deepEqual(b.state.publishedSnapshot().path_config, saved);
    await b.close();

    // A state.json written before path configs existed.
    const stateFile = path.join(dir, 'state.json');
    const doc = JSON.parse(await readFile(stateFile, 'utf8'));
    delete doc.pathConfig;
    await writeFile(stateFile, JSON.stringify(doc));
    const c = await mini({ dir });
    assert.deepEqual(c.store.get(), { json: JSON.stringify(DEFAULT_DOC, null, 2) + '\n', version: 1 });
    await c.close();

    // A stored document that is not valid is a corrupt state file, never silently reset.
    doc.pathConfig = { version: 3, document: { rules: [{ path: 'x', policyMode: 'WRITE_BACK' }] } };
    await writeFile(stateFile, JSON.stringify(doc));
    await assert.rejects(mini({ dir }), (err: Error) => err instanceof CorruptStateError && /state\.pathConfig\.document is invalid: rules\[0\]\.path "x" must start with '\/'/.test(err.message));
  });

  it('gRPC: GetPathConfig, SetPathConfig (INVALID_ARGUMENT with the reason), ResolvePath', async () => {
    const m = await mini();
    const got = await unary<object, PathConfigDocument>(m.client, 'GetPathConfig', {});
    assert.equal(got.version, 1);
    const set = await unary<object, PathConfigDocument>(m.client, 'SetPathConfig', { json: JSON.stringify(EXAMPLE) });
    assert.equal(set.version, 2);
    await expectStatus(unary(m.client, 'SetPathConfig', { json: '{"rules": [{"path": "ckpt", "policyMode": "WRITE_BACK"}]}' }), grpc.status.INVALID_ARGUMENT,
      /^invalid path config: rules\[0\]\.path "ckpt" must start with '\/'$/);
    await expectStatus(unary(m.client, 'SetPathConfig', { json: JSON.stringify(DEFAULT_DOC), version: 1 }), grpc.status.FAILED_PRECONDITION, /changed since version 1/);
    assert.equal((await unary<object, PathConfigDocument>(m.client, 'GetPathConfig', {})).version, 2);
    const resolved = await unary<object, ResolvedPolicy>(m.client, 'ResolvePath', { path: '/ckpt/model.bin' });
    assert.match(resolved.json, /"policyMode": "WRITE_BACK"/);
    assert.deepEqual(JSON.parse(resolved.json), { path: '/ckpt', policyMode: 'WRITE_BACK', writeReplicas: 2 });
    assert.deepEqual(JSON.parse((await unary<object, ResolvedPolicy>(m.client, 'ResolvePath', { path: '/shuffle/x' })).json).policyMode, 'TRANSIENT');
    assert.deepEqual(JSON.parse((await unary<object, ResolvedPolicy>(m.client, 'ResolvePath', { path: '/other' })).json), { path: '/', policyMode: 'WRITE_THROUGH', writeReplicas: 1 });
    await expectStatus(unary(m.client, 'ResolvePath', {}), grpc.status.INVALID_ARGUMENT, /a path is required/);
  });

  it('REST: GET, PUT (400 with the reason, 412 on a stale If-Match) and resolve', async () => {
    const m = await mini();
    const get = await fetch(`${m.web}/api/v1/pathconfig`);
    assert.equal(get.status, 200);
    assert.match(get.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(get.headers.get('etag'), '"1"');
    assert.deepEqual(await get.json(), DEFAULT_DOC);

    const put = await fetch(`${m.web}/api/v1/pathconfig`, { method: 'PUT', body: JSON.stringify(EXAMPLE), headers: { 'content-type': 'application/json', 'if-match': '"1"' } });
    assert.equal(put.status, 200);
    assert.equal(put.headers.get('x-alluxio-path-config-version'), '2');
    assert.deepEqual(await put.json(), EXAMPLE);

    const bad = await fetch(`${m.web}/api/v1/pathconfig`, { method: 'PUT', body: '{"default": {"policyMode": "WRITE_SOMETIMES"}}' });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'invalid path config: default.policyMode "WRITE_SOMETIMES" is not a policy mode (expected one of WRITE_THROUGH, WRITE_BACK, TRANSIENT, READ_ONLY, NO_CACHE)' });
    const stale = await fetch(`${m.web}/api/v1/pathconfig`, { method: 'PUT', body: JSON.stringify(DEFAULT_DOC), headers: { 'if-match': '"1"' } });
    assert.equal(stale.status, 412);
    assert.match(((await stale.json()) as { error: string }).error, /changed since version 1/);
    const empty = await fetch(`${m.web}/api/v1/pathconfig`, { method: 'PUT' });
    assert.equal(empty.status, 400);
    assert.match(((await empty.json()) as { error: string }).error, /unexpected end of input/);
    assert.deepEqual(await (await fetch(`${m.web}/api/v1/pathconfig`)).json(), EXAMPLE, 'the refused PUTs changed nothing');

    const resolve = await fetch(`${m.web}/api/v1/pathconfig/resolve?path=/ckpt/x`);
    assert.equal(resolve.status, 200);
    const text = await resolve.text();
    assert.match(text, /"policyMode": "WRITE_BACK"/);
    assert.deepEqual(JSON.parse(text), { path: '/ckpt', policyMode: 'WRITE_BACK', writeReplicas: 2 });
    const noPath = await fetch(`${m.web}/api/v1/pathconfig/resolve`);
    assert.equal(noPath.status, 400);
    assert.match(((await noPath.json()) as { error: string }).error, /path is required/);
  });
});

// ---------------------------------------------------------------------------------------------
// Through a real cluster: coordinator and worker processes, the built CLI.

function oneLineError(r: { code: number | null; stderr: string; stdout: string }, expected: RegExp): void {
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}; stdout ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], expected);
}

describe('alluxio pathconfig through a real cluster', () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster({ conf: { 'alluxio.write.cache.enabled': 'true' } });
  });
  after(async () => {
    await c?.close();
  });

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(['pathconfig', ...args], { conf: c.cliConf(), env: { VISUAL: '', ...env } });
  const rest = (p: string, init?: RequestInit) => fetch(`http://127.0.0.1:${c.coordinatorWebPort}${p}`, init);
  const show = async () => {
    const r = await cli(['show']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as unknown;
  };

  /** Until every worker has applied the coordinator's current state; returns how long that took. */
  async function everyWorkerApplied(pathConfigVersion: number, withinMs: number): Promise<number> {
    const started = Date.now();
    const { version } = (await (await rest('/health')).json()) as { version: number };
    await waitFor(`every worker to apply cluster version ${version} (path config ${pathConfigVersion})`, async () => {
      for (const w of c.workers) {
        const h = (await (await fetch(`${w.endpoint}/_alluxio/health`)).json()) as { version: number; pathConfigVersion?: number };
        if (h.version < version) return false;
        if (h.pathConfigVersion !== undefined && h.pathConfigVersion < pathConfigVersion) return false;
      }
      return true;
    }, withinMs, 20);
    return Date.now() - started;
  }

  it('set, then resolve via the CLI and REST; show prints the document', async () => {
    const set = await cli(['set', '/ckpt', '--policy', 'WRITE_BACK', '--replicas', '2']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /\/ckpt → WRITE_BACK \(writeReplicas 2\); path config version \d+/);
    const set2 = await cli(['set', '/shuffle/', '--policy', 'transient', '--replicas', '2']);
    assert.equal(set2.code, 0, set2.stderr);
    assert.deepEqual(await show(), EXAMPLE);

    for (const [p, mode, replicas] of [['/ckpt/model.bin', 'WRITE_BACK', 2], ['/shuffle/x', 'TRANSIENT', 2], ['/other', 'WRITE_THROUGH', 1], ['/ckptx', 'WRITE_THROUGH', 1]] as const) {
      const r = await cli(['resolve', p]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`"policyMode": "${mode}"`));
      assert.equal((JSON.parse(r.stdout) as { writeReplicas: number }).writeReplicas, replicas);
      const viaRest = await rest(`/api/v1/pathconfig/resolve?path=${encodeURIComponent(p)}`);
      assert.equal(viaRest.status, 200);
      const body = await viaRest.text();
      assert.match(body, new RegExp(`"policyMode": "${mode}"`));
    }
    assert.deepEqual(await (await rest('/api/v1/pathconfig')).json(), EXAMPLE);

    const bad = await cli(['set', '/x', '--policy', 'FAST']);
    oneLineError(bad, /^alluxio: the policy "FAST" is not a policy mode \(expected one of WRITE_THROUGH, WRITE_BACK, TRANSIENT, READ_ONLY, NO_CACHE\)$/);
    oneLineError(await cli(['unset', '/nope']), /^alluxio: no rule for \/nope$/);
    const unset = await cli(['unset', '/shuffle']);
    assert.equal(unset.code, 0, unset.stderr);
    assert.match((await cli(['resolve', '/shuffle/x'])).stdout, /"policyMode": "WRITE_THROUGH"/);
    assert.equal((await cli(['set', '/shuffle', '--policy', 'TRANSIENT', '--replicas', '2'])).code, 0);
    assert.deepEqual(await show(), EXAMPLE);
  });

  it('edit applies a valid edit, refuses an invalid one in one line and keeps the old document', async () => {
    const dir = clusterTempDir('editor');
    const before = (await (await rest('/api/v1/pathconfig')).json()) as typeof EXAMPLE;
    assert.equal(before.default.policyMode, 'WRITE_THROUGH');

    // An editor that leaves the file as it is.
    const same = await cli(['edit'], { EDITOR: 'true' });
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout.trim(), 'no changes');

    // An invalid edit: a policy mode that does not exist.
    const breakIt = path.join(dir, 'break.sh');
    await writeFile(breakIt, '#!/bin/sh\nsed -i \'s/"TRANSIENT"/"WRITE_FAST"/\' "$1"\n');
    await chmod(breakIt, 0o755);
    const versionBefore = (await rest('/api/v1/pathconfig')).headers.get('etag');
    const bad = await cli(['edit'], { EDITOR: breakIt });
    oneLineError(bad, /^alluxio: invalid path config: rules\[1\]\.policyMode "WRITE_FAST" is not a policy mode \(expected one of WRITE_THROUGH, WRITE_BACK, TRANSIENT, READ_ONLY, NO_CACHE\)$/);
    // Broken JSON too.
    const truncate = await cli(['edit'], { EDITOR: `node -e "require('fs').appendFileSync(process.argv[1], ',')"` });
    oneLineError(truncate, /^alluxio: invalid path config: not valid JSON at line \d+, column \d+ \(position \d+\): /);
    assert.deepEqual(await show(), before, 'the old config stays');
    assert.equal((await rest('/api/v1/pathconfig')).headers.get('etag'), versionBefore, 'and its version');

    // A valid edit (the example from the docs: an inline sh -c as $EDITOR).
    const good = await cli(['edit'], { EDITOR: `sh -c 'sed -i s/WRITE_THROUGH/WRITE_BACK/ "$0"'` });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /path config updated \(version \d+\)/);
    assert.equal(((await show()) as typeof EXAMPLE).default.policyMode, 'WRITE_BACK');
    assert.match((await cli(['resolve', '/other'])).stdout, /"policyMode": "WRITE_BACK"/);

    // $VISUAL wins over $EDITOR.
    // (GNU sed: the first WRITE_BACK in the file is the default's.)
    const visual = await cli(['edit'], { VISUAL: `sh -c 'sed -i 0,/WRITE_BACK/s//WRITE_THROUGH/ "$0"'`, EDITOR: breakIt });
    assert.equal(visual.code, 0, visual.stderr);
    assert.deepEqual(await show(), before);

    // An editor that fails applies nothing.
    oneLineError(await cli(['edit'], { EDITOR: 'false' }), /^alluxio: the editor \(false\) exited with code 1; the path config is unchanged$/);
  });

  it('a change reaches every worker within a second', async () => {
    const put = await rest('/api/v1/pathconfig', { method: 'PUT', body: JSON.stringify({ ...EXAMPLE, rules: [...EXAMPLE.rules, { path: '/tmp', policyMode: 'NO_CACHE' }] }) });
    assert.equal(put.status, 200, await put.clone().text());
    const version = Number(put.headers.get('x-alluxio-path-config-version'));
    const ms = await everyWorkerApplied(version, 1_000);
    assert.ok(ms < 1_000, `took ${ms} ms`);
    const restore = await rest('/api/v1/pathconfig', { method: 'PUT', body: JSON.stringify(EXAMPLE) });
    assert.equal(restore.status, 200);
    await everyWorkerApplied(Number(restore.headers.get('x-alluxio-path-config-version')), 1_000);
  });

  it('the document survives a coordinator restart and reaches the workers again', async () => {
    const before = await rest('/api/v1/pathconfig');
    const version = Number(before.headers.get('x-alluxio-path-config-version'));
    const doc = await before.json();
    await c.restartCoordinator();
    const after = await rest('/api/v1/pathconfig');
    assert.equal(Number(after.headers.get('x-alluxio-path-config-version')), version);
    assert.deepEqual(await after.json(), doc);
    assert.match((await cli(['resolve', '/ckpt/model.bin'])).stdout, /"policyMode": "WRITE_BACK"/);
    await everyWorkerApplied(version, 5_000);
  });
});
