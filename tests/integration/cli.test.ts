/**
 * The built `alluxio` CLI against a real cluster: what an operator types and reads. Every
 * failure must be one line on stderr and a non-zero exit.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BIN, runCli, startCluster, tempDir, type TestCluster } from '../helpers/cluster.js';
import { freePort, waitFor } from '../helpers/ports.js';

function oneLineError(r: { code: number | null; stderr: string; stdout: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected a failure, got stdout ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^alluxio: /);
  assert.match(lines[0], pattern);
}

describe('alluxio CLI', () => {
  let c: TestCluster;
  before(async () => { c = await startCluster(); });
  after(async () => { await c?.close(); });

  it('worker list shows every worker with its ports, health and cache', async () => {
    const r = await runCli(['worker', 'list', '--json'], { conf: c.cliConf() });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { workers: { id: string; s3Port: number; rpcPort: number; health: string; cacheCapacityBytes: number; ringShare: number }[] };
    assert.deepEqual(doc.workers.map((w) => w.id).sort(), ['worker-0', 'worker-1', 'worker-2']);
    for (const w of doc.workers) {
      const t = c.workers.find((x) => x.id === w.id)!;
      assert.equal(w.s3Port, t.s3Port);
      assert.equal(w.rpcPort, t.rpcPort);
      assert.equal(w.health, 'healthy');
      assert.equal(w.cacheCapacityBytes, 1024 ** 3);
      assert.ok(w.ringShare > 0.15 && w.ringShare < 0.5);
    }
    const table = await runCli(['worker', 'list'], { conf: c.cliConf() });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+ADDRESS\s+S3\s+GRPC\s+HEALTH\s+CACHE USED\/CAPACITY/m);
    assert.equal(table.stdout.trim().split('\n').length, 4);
  });

  it('mount add/list/remove a local directory, served as a bucket', async () => {
    const dir = tempDir('mnt');
    await fs.mkdir(path.join(dir, 'sub'));
    await fs.writeFile(path.join(dir, 'sub', 'file.txt'), 'from a mounted directory');
    const add = await runCli(['mount', 'add', '/local-mnt', dir], { conf: c.cliConf() });
    assert.equal(add.code, 0, add.stderr);
    const list = await runCli(['mount', 'list'], { conf: c.cliConf() });
    assert.match(list.stdout, new RegExp(`/local-mnt\\s+file://${dir}\\s+readwrite`));
    await waitFor('the mount to reach the workers', async () => (await fetch(`${c.workers[2].endpoint}/local-mnt/sub/file.txt`)).status === 200);
    for (const w of c.workers) assert.equal(await (await fetch(`${w.endpoint}/local-mnt/sub/file.txt`)).text(), 'from a mounted directory');
    const buckets = await (await fetch(`${c.endpoint}/`)).text();
    assert.match(buckets, /<Name>local-mnt<\/Name>/);
    const cat = await runCli(['fs', 'cat', '/local-mnt/sub/file.txt'], { conf: c.cliConf() });
    assert.equal(cat.stdout, 'from a mounted directory');
    const ls = await runCli(['fs', 'ls', '/local-mnt/sub'], { conf: c.cliConf() });
    assert.match(ls.stdout, /FILE\s+24B\s+\S+\s+PERSISTED\s+\/local-mnt\/sub\/file\.txt/);
    const stat = JSON.parse((await runCli(['fs', 'stat', '/local-mnt/sub/file.txt'], { conf: c.cliConf() })).stdout) as { size: number; type: string };
    assert.equal(stat.size, 24);
    assert.equal(stat.type, 'file');
    const rm = await runCli(['mount', 'remove', '/local-mnt'], { conf: c.cliConf() });
    assert.equal(rm.code, 0, rm.stderr);
    await waitFor('the unmount to reach the workers', async () => (await fetch(`${c.endpoint}/local-mnt/sub/file.txt`)).status === 404);
  });

  it('a read-only mount answers writes with AccessDenied', async () => {
    const dir = tempDir('ro');
    await fs.writeFile(path.join(dir, 'keep.txt'), 'keep');
    const add = await runCli(['mount', 'add', '/ro-mnt', `file://${dir}`, '--readonly'], { conf: c.cliConf() });
    assert.equal(add.code, 0, add.stderr);
    await waitFor('the mount', async () => (await fetch(`${c.endpoint}/ro-mnt/keep.txt`)).status === 200);
    for (const w of c.workers) {
      const put = await fetch(`${w.endpoint}/ro-mnt/new.txt`, { method: 'PUT', body: 'x' });
      assert.equal(put.status, 403);
      assert.match(await put.text(), /<Code>AccessDenied<\/Code>/);
      const del = await fetch(`${w.endpoint}/ro-mnt/keep.txt`, { method: 'DELETE' });
      assert.equal(del.status, 403);
    }
    assert.equal(await fs.readFile(path.join(dir, 'keep.txt'), 'utf8'), 'keep');
    await runCli(['mount', 'remove', '/ro-mnt'], { conf: c.cliConf() });
  });

  it('errors are one clear line and a non-zero exit', async () => {
    oneLineError(await runCli(['mount', 'add', '/missing', '/definitely/not/here'], { conf: c.cliConf() }), /cannot mount file:\/\/\/definitely\/not\/here at \/missing/);
    oneLineError(await runCli(['mount', 'remove', '/nothing-here'], { conf: c.cliConf() }), /nothing-here/);
    oneLineError(await runCli(['mount', 'add', '/opt-test', '/tmp', '--option', 'no.such.option=1'], { conf: c.cliConf() }), /no\.such\.option/);
    oneLineError(await runCli(['conf', 'get', 'alluxio.no.such.key']), /unknown property key: alluxio\.no\.such\.key/);
    oneLineError(await runCli(['worker', 'list'], { conf: { 'alluxio.coordinator.rpc.port': String(await freePort()) } }), /cannot reach the coordinator/);
    oneLineError(await runCli(['fs', 'cat', '/no-bucket/key'], { conf: c.cliConf() }), /NoSuchBucket/);
    oneLineError(await runCli(['bogus-command']), /Unknown argument|command/i);
  });

  it('conf get reads the site file, then --conf', async () => {
    assert.equal((await runCli(['conf', 'get', 'alluxio.worker.page.store.page.size'])).stdout.trim(), '1MB');
    const dir = tempDir('conf');
    await fs.writeFile(path.join(dir, 'alluxio-site.properties'), '# site\nalluxio.worker.page.store.page.size=4MB\naws.secretKey=hush\n');
    const fromFile = await runCli(['conf', 'get', 'alluxio.worker.page.store.page.size'], { env: { ALLUXIO_CONF_DIR: dir } });
    assert.equal(fromFile.stdout.trim(), '4MB');
    const overridden = await runCli(['conf', 'get', 'alluxio.worker.page.store.page.size'], { env: { ALLUXIO_CONF_DIR: dir }, conf: { 'alluxio.worker.page.store.page.size': '2MB' } });
    assert.equal(overridden.stdout.trim(), '2MB');
    assert.equal((await runCli(['conf', 'get', 'aws.secretKey'], { env: { ALLUXIO_CONF_DIR: dir } })).stdout.trim(), '******', 'secrets are never printed');
    await fs.writeFile(path.join(dir, 'alluxio-site.properties'), 'alluxio.not.a.key=1\n');
    oneLineError(await runCli(['conf', 'get', 'alluxio.home'], { env: { ALLUXIO_CONF_DIR: dir } }), /unknown property key: alluxio\.not\.a\.key/);
  });

  it('a lost worker shows as lost', async () => {
    const victim = c.workers[2];
    await c.killWorker(victim, 'SIGKILL');
    try {
      await waitFor('the coordinator to mark the worker lost', async () => {
        const r = await runCli(['worker', 'list', '--json'], { conf: c.cliConf() });
        const doc = JSON.parse(r.stdout) as { workers: { id: string; health: string }[] };
        return doc.workers.find((w) => w.id === victim.id)?.health === 'lost';
      }, 15_000, 300);
    } finally {
      await c.restartWorker(victim);
    }
  });
});

describe('alluxio cluster start', () => {
  it('starts a coordinator and workers, serves S3, and stops cleanly on Ctrl-C', async () => {
    const dataDir = tempDir('cluster-start');
    const conf = {
      'alluxio.coordinator.rpc.port': String(await freePort()),
      'alluxio.coordinator.web.port': String(await freePort()),
      'alluxio.worker.s3.port': String(await freePort()),
      'alluxio.worker.rpc.port': String(await freePort()),
      'alluxio.worker.web.port': String(await freePort()),
    };
    const args = [BIN, 'cluster', 'start', '--workers', '2', '--data-dir', dataDir, ...Object.entries(conf).flatMap(([k, v]) => ['--conf', `${k}=${v}`])];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALLUXIO_CONF_DIR: '' } });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    try {
      await waitFor('the S3 endpoint line', async () => out.includes('S3 endpoint:'), 60_000, 100);
      const endpoint = `http://127.0.0.1:${conf['alluxio.worker.s3.port']}`;
      assert.match(out, new RegExp(`S3 endpoint:\\s+${endpoint}`));
      assert.equal((await fetch(`${endpoint}/quick`, { method: 'PUT' })).status, 200);
      assert.equal((await fetch(`${endpoint}/quick/hello.txt`, { method: 'PUT', body: 'hi' })).status, 200);
      assert.equal(await (await fetch(`${endpoint}/quick/hello.txt`)).text(), 'hi');
      assert.equal(await fs.readFile(path.join(dataDir, 'ufs', 'quick', 'hello.txt'), 'utf8'), 'hi');
      proc.kill('SIGINT');
      assert.equal(await exited, 0, out);
      assert.match(out, /Stopped\./);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });

  it('leaves no orphan behind when it is killed outright', async () => {
    const dataDir = tempDir('cluster-kill');
    const conf = {
      'alluxio.coordinator.rpc.port': String(await freePort()),
      'alluxio.coordinator.web.port': String(await freePort()),
      'alluxio.worker.s3.port': String(await freePort()),
      'alluxio.worker.rpc.port': String(await freePort()),
      'alluxio.worker.web.port': String(await freePort()),
    };
    const args = [BIN, 'cluster', 'start', '--workers', '1', '--data-dir', dataDir, ...Object.entries(conf).flatMap(([k, v]) => ['--conf', `${k}=${v}`])];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALLUXIO_CONF_DIR: '' } });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    await waitFor('the S3 endpoint line', async () => out.includes('S3 endpoint:'), 60_000, 100);
    proc.kill('SIGKILL');
    const s3 = `http://127.0.0.1:${conf['alluxio.worker.s3.port']}/_alluxio/health`;
    const web = `http://127.0.0.1:${conf['alluxio.coordinator.web.port']}/health`;
    await waitFor('the worker and the coordinator to exit with their parent', async () => {
      const up = await Promise.all([s3, web].map((u) => fetch(u).then(() => true, () => false)));
      return up.every((x) => !x);
    }, 20_000, 200);
  });
});
