/**
 * `alluxio async-persist stat|list`: the write cache's background persistence, gathered from
 * every live worker (each persists its own objects; seed 004's monitoring commands).
 */
import type { Argv } from 'yargs';
import type { ListWorkersResponse } from '../proto/index.js';
import { callCoordinator, CliError, configFrom, formatBytes, table, type GlobalArgs } from './common.js';

interface WorkerPersist {
  id: string;
  queued: number;
  inFlight: number;
  failed: number;
  persisted: number;
  oldestUnpersistedAgeMs: number;
  lastError?: string;
  recentObjectsPerSecond: number;
  pinnedBytes: number;
  pinnedCapacityBytes: number;
}

async function fromWorkers<T>(args: GlobalArgs, path: string): Promise<T[]> {
  const res = await callCoordinator<ListWorkersResponse>(configFrom(args), 'ListWorkers', {});
  const live = res.workers.filter((w) => w.state === 'LIVE');
  if (live.length === 0) throw new CliError('no live worker');
  return Promise.all(live.map(async (w) => {
    const r = await fetch(`http://${w.address.host}:${w.address.s3_port}${path}`, { signal: AbortSignal.timeout(10_000) }).catch((err) => {
      throw new CliError(`cannot reach ${w.id}: ${(err as Error).message}`);
    });
    if (!r.ok) throw new CliError(`${w.id} answered HTTP ${r.status} (is the write cache enabled?)`);
    return r.json() as Promise<T>;
  }));
}

function age(ms: number): string {
  if (ms <= 0) return '-';
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

export function asyncPersistCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command('stat', 'Queued, in-flight and failed persistence per worker, oldest unpersisted age, last error, recent throughput', (a) => a.option('json', { type: 'boolean', default: false }), async (args) => {
      const stats = await fromWorkers<WorkerPersist>(args, '/_alluxio/persist');
      if (args.json) {
        console.log(JSON.stringify(stats, null, 2));
        return;
      }
      const rows = [['WORKER', 'QUEUED', 'IN FLIGHT', 'FAILED', 'PERSISTED', 'OLDEST', 'OBJ/S (1m)', 'PINNED', 'LAST ERROR']];
      for (const s of stats) {
        rows.push([s.id, String(s.queued), String(s.inFlight), String(s.failed), String(s.persisted), age(s.oldestUnpersistedAgeMs), s.recentObjectsPerSecond.toFixed(1), `${formatBytes(s.pinnedBytes)}/${formatBytes(s.pinnedCapacityBytes)}`, s.lastError ?? '-']);
      }
      console.log(table(rows));
    })
    .command('list', 'Every unpersisted object with its state, holders, attempts and next try', (a) => a.option('json', { type: 'boolean', default: false }), async (args) => {
      const lists = await fromWorkers<{ id: string; entries: { path: string; state: string; policy: string; size: number; holders: string[]; attempts: number; dueMs: number; lastError?: string }[] }>(args, '/_alluxio/persist/list');
      const all = lists.flatMap((l) => l.entries.map((e) => ({ worker: l.id, ...e })));
      if (args.json) {
        console.log(JSON.stringify(all, null, 2));
        return;
      }
      const rows = [['PATH', 'STATE', 'POLICY', 'SIZE', 'PERSISTER', 'HOLDERS', 'ATTEMPTS', 'NEXT TRY', 'LAST ERROR']];
      for (const e of all) rows.push([e.path, e.state, e.policy, formatBytes(e.size), e.worker, e.holders.join(','), String(e.attempts), e.policy === 'WRITE_BACK' ? age(e.dueMs - Date.now()) : 'never', e.lastError ?? '-']);
      console.log(table(rows));
    })
    .demandCommand(1, 'name an async-persist command: stat or list');
}
