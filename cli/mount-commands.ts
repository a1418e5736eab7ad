import type { Argv } from 'yargs';
import type { ListMountsResponse, ListWorkersResponse, MountInfo } from '../proto/index.js';
import type { Config } from '../common/config/config.js';
import { callCoordinator, CliError, configFrom, table, type GlobalArgs } from './common.js';

function parseOptions(pairs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new CliError(`--option expects key=value, got "${p}"`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

/**
 * Returns once every live worker has applied the coordinator's current cluster version, so a
 * command run right after `mount add` already sees the new bucket everywhere.
 */
async function waitForWorkers(config: Config): Promise<void> {
  const { cluster_version: version, workers } = await callCoordinator<ListWorkersResponse>(config, 'ListWorkers', {});
  const deadline = Date.now() + 10_000;
  const lagging = workers.filter((w) => w.state === 'LIVE');
  while (lagging.length > 0 && Date.now() < deadline) {
    const w = lagging[0];
    const seen = await fetch(`http://${w.address.host}:${w.address.s3_port}/_alluxio/health`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.json() as Promise<{ version: number }>).then((h) => h.version, () => -1);
    if (seen >= version) lagging.shift();
    else await new Promise((r) => setTimeout(r, 50));
  }
  if (lagging.length > 0) process.stderr.write(`alluxio: warning: ${lagging.map((w) => w.id).join(', ')} has not applied the change yet\n`);
}

export function mountCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command('list', 'List the mount table (secrets redacted)', (a) => a.option('json', { type: 'boolean', default: false }), async (args) => {
      const res = await callCoordinator<ListMountsResponse>(configFrom(args), 'ListMounts', {});
      if (args.json) {
        console.log(JSON.stringify(res.mounts, null, 2));
        return;
      }
      const rows = [['PATH', 'UFS', 'MODE', 'OPTIONS']];
      for (const m of res.mounts) rows.push([m.path, m.ufs_uri, m.read_only ? 'readonly' : 'readwrite', Object.entries(m.options).map(([k, v]) => `${k}=${v}`).join(' ')]);
      console.log(table(rows));
    })
    .command('add <path> <uri>', 'Mount a UFS (a directory or s3://bucket/prefix) as the bucket PATH', (a) => a
      .positional('path', { type: 'string', demandOption: true, describe: 'mount point, e.g. /s3-mount (the bucket name)' })
      .positional('uri', { type: 'string', demandOption: true, describe: 'file:///dir, /dir or s3://bucket/prefix' })
      .option('option', { type: 'string', array: true, describe: 'UFS option key=value (aws.accessKeyId, alluxio.underfs.s3.endpoint, …)' })
      .option('readonly', { type: 'boolean', default: false }), async (args) => {
      const mount: MountInfo = { path: args.path!, ufs_uri: args.uri!, options: parseOptions(args.option), read_only: args.readonly };
      const config = configFrom(args);
      const res = await callCoordinator<MountInfo>(config, 'AddMount', { mount });
      await waitForWorkers(config);
      console.log(`mounted ${res.ufs_uri} at ${res.path}${res.read_only ? ' (read-only)' : ''}`);
    })
    .command('remove <path>', 'Unmount PATH', (a) => a.positional('path', { type: 'string', demandOption: true }), async (args) => {
      const config = configFrom(args);
      await callCoordinator(config, 'RemoveMount', { path: args.path });
      await waitForWorkers(config);
      console.log(`unmounted ${args.path}`);
    })
    .demandCommand(1, 'name a mount command: list, add or remove');
}
