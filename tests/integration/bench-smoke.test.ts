/**
 * The benchmark cannot rot: its smoke version (tiny sizes, one short run) starts our cluster
 * and every peer (nginx static and proxy_cache, s3rver, moto), runs every workload and prints
 * a row for every workload × target. Timings are never asserted; that every row has numbers
 * (no FAILED row) and every target is checked is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { REPO_ROOT, runCommand } from '../helpers/cluster.js';

describe('npm run bench -- --smoke', () => {
  it('runs every workload against every peer and prints the table and the target checks', async () => {
    const main = path.join(REPO_ROOT, 'dist', 'bench', 'main.js');
    const listed = await runCommand(process.execPath, [main, '--list'], { timeoutMs: 60_000 });
    assert.equal(listed.code, 0, listed.stderr);
    const ids = listed.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]!);
    assert.ok(ids.length >= 15, `expected every workload in --list, got ${ids.join(', ')}`);

    const r = await runCommand(process.execPath, [main, '--smoke', '--no-write'], { timeoutMs: 540_000 });
    assert.equal(r.code, 0, `bench --smoke failed (${r.code}):\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}`);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| id ') && !l.startsWith('| target '));
    const failed = rows.filter((l) => l.includes('FAILED'));
    assert.equal(failed.length, 0, failed.join('\n'));

    // Every workload is in the table, with every target it names (the peers of a GET included).
    const cell = (l: string, i: number) => l.split('|')[i + 1]?.trim();
    for (const id of ids) assert.ok(rows.some((l) => cell(l, 0) === id), `no row for ${id}`);
    for (const peer of ['nginx static', 'nginx proxy_cache', 's3rver', 'moto', 'ours']) {
      assert.ok(rows.some((l) => cell(l, 2) === peer), `no row for ${peer}`);
    }
    for (const id of ['get-4k-c16', 'get-4k-c64', 'get-1m-c16', 'get-64m-c4']) {
      assert.deepEqual(rows.filter((l) => cell(l, 0) === id).map((l) => cell(l, 2)), ['nginx static', 'nginx proxy_cache', 's3rver', 'moto', 'ours']);
    }

    // Every target is checked (MET or MISSED), none left unmeasured.
    const targets = r.stdout.slice(r.stdout.indexOf('## Targets')).split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| target'));
    assert.ok(targets.length >= 15, targets.join('\n'));
    for (const t of targets) assert.match(t, /\| (MET|MISSED) \|$/, t);
  });
});
