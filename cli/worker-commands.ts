import type { Argv } from 'yargs';
import type { ListWorkersResponse } from '../proto/index.js';
import { Ring } from '../common/ring.js';
import { callCoordinator, configFrom, formatBytes, table, type GlobalArgs } from './common.js';

export function workerListCommand(y: Argv<GlobalArgs>) {
  return y.option('json', { type: 'boolean', default: false });
}

export async function workerList(args: GlobalArgs & { json?: boolean }): Promise<void> {
  const res = await callCoordinator<ListWorkersResponse>(configFrom(args), 'ListWorkers', {});
  const live = res.workers.filter((w) => w.state === 'LIVE');
  // Ring share: the fraction of a sample of keys each live worker owns.
  const ring = new Ring(live.map((w) => w.id));
  const share = new Map<string, number>();
  const samples = 10_000;
  for (let i = 0; i < samples; i++) {
    const o = ring.owner(`/sample/${i}`);
    if (o) share.set(o, (share.get(o) ?? 0) + 1);
  }
  const workers = res.workers.map((w) => ({
    id: w.id,
    address: w.address.host,
    s3Port: w.address.s3_port,
    rpcPort: w.address.rpc_port,
    state: w.state,
    health: w.state === 'LIVE' ? 'healthy' : 'lost',
    lastHeartbeat: new Date(w.last_heartbeat_ms).toISOString(),
    cacheUsedBytes: w.cache.used_bytes,
    cacheCapacityBytes: w.cache.capacity_bytes,
    cachePages: w.cache.pages,
    ringShare: (share.get(w.id) ?? 0) / samples,
  }));
  if (args.json) {
    console.log(JSON.stringify({ clusterVersion: res.cluster_version, workers }, null, 2));
    return;
  }
  const rows = [['ID', 'ADDRESS', 'S3', 'GRPC', 'HEALTH', 'CACHE USED/CAPACITY', 'RING SHARE']];
  for (const w of workers) {
    rows.push([w.id, w.address, String(w.s3Port), String(w.rpcPort), w.health, `${formatBytes(w.cacheUsedBytes)}/${formatBytes(w.cacheCapacityBytes)}`, `${(w.ringShare * 100).toFixed(1)}%`]);
  }
  console.log(table(rows));
}
