import type { Argv } from 'yargs';
import { OperationsService, type DecommissionStatus, type ListWorkersResponse } from '../proto/index.js';
import { Ring } from '../common/ring.js';
import { callCoordinator, CliError, configFrom, formatBytes, table, type GlobalArgs } from './common.js';

export function workerListCommand(y: Argv<GlobalArgs>) {
  return y
    .option('json', { type: 'boolean', default: false })
    .option('wait', { type: 'boolean', default: true, describe: 'decommission: wait until the worker has left (--no-wait: return at once)' });
}

const HEALTH: Record<string, string> = { LIVE: 'healthy', LOST: 'lost', DECOMMISSIONING: 'draining', DECOMMISSIONED: 'left' };

function decommissionLine(s: DecommissionStatus): string {
  const backlog = Number(s.backlog) < 0 ? 'counting what it holds' : `${s.backlog} unpersisted object${Number(s.backlog) === 1 ? '' : 's'} to persist or hand over`;
  const transient = Number(s.transient) > 0 ? `; ${s.transient} TRANSIENT cop${Number(s.transient) === 1 ? 'y' : 'ies'} (never persisted) stay with the other holders` : '';
  return `${s.id} ${s.state}: ${s.state === 'DECOMMISSIONED' ? 'nothing depends on it any more' : backlog}${transient}`;
}

/**
 * `alluxio worker decommission ID`: the worker leaves the ring at once; the CLI then shows its
 * backlog until it is DECOMMISSIONED and has left the worker list (its process exits cleanly).
 */
export async function workerDecommission(args: GlobalArgs & { id?: string; wait?: boolean }): Promise<void> {
  if (!args.id) throw new CliError('name the worker to decommission: alluxio worker decommission ID (see alluxio worker list)');
  const config = configFrom(args);
  let s = await callCoordinator<DecommissionStatus>(config, 'DecommissionWorker', { id: args.id }, OperationsService);
  console.log(`${s.id} is out of the ring: new requests go to the other workers`);
  if (args.wait === false) {
    console.log(decommissionLine(s));
    console.log(`Watch it with: alluxio worker list`);
    return;
  }
  let last = '';
  for (;;) {
    const line = decommissionLine(s);
    if (line !== last) console.log(line);
    last = line;
    if (s.state === 'DECOMMISSIONED') break;
    await new Promise((r) => setTimeout(r, 1000));
    s = await callCoordinator<DecommissionStatus>(config, 'GetDecommission', { id: args.id }, OperationsService);
  }
  // The worker learns it at its next heartbeat, then unregisters and stops.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await callCoordinator<ListWorkersResponse>(config, 'ListWorkers', {});
    if (!res.workers.some((w) => w.id === args.id)) break;
    if (Date.now() > deadline) {
      console.log(`${args.id} is DECOMMISSIONED but its process has not left yet (is it still running?)`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`${args.id} decommissioned: it has left the cluster`);
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
    health: HEALTH[w.state] ?? w.state.toLowerCase(),
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
  const rows = [['ID', 'ADDRESS', 'S3', 'GRPC', 'HEALTH', 'CACHE USED/CAPACITY', 'RING SHARE', 'STATE']];
  for (const w of workers) {
    rows.push([w.id, w.address, String(w.s3Port), String(w.rpcPort), w.health, `${formatBytes(w.cacheUsedBytes)}/${formatBytes(w.cacheCapacityBytes)}`, `${(w.ringShare * 100).toFixed(1)}%`, w.state]);
  }
  console.log(table(rows));
}
