/**
 * The `alluxio` command. The only module that reads process.argv or calls process.exit: every
 * failure ends as one line on stderr and a non-zero exit.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../common/config/config.js';
import { CliError, type GlobalArgs } from './common.js';
import { clusterStart, runCoordinator, runWorker } from './process-commands.js';
import { mountCommands } from './mount-commands.js';
import { workerDecommission, workerList, workerListCommand } from './worker-commands.js';
import { jobCommands } from './job-commands.js';
import { fsCommands } from './fs-commands.js';
import { confCommands } from './conf-commands.js';
import { asyncPersistCommands } from './async-persist-commands.js';
import { pathConfigCommands } from './pathconfig-commands.js';
import { credentialsCommands } from './credentials-commands.js';
import { bucketCommands } from './bucket-commands.js';

function fail(message: string): never {
  process.stderr.write(`alluxio: ${message}\n`);
  process.exit(1);
}

// We pin the AWS SDK for the S3 UFS; its notice about future Node versions is not for our users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

process.on('unhandledRejection', (err) => fail(err instanceof Error ? err.message : String(err)));

const cli = yargs(hideBin(process.argv))
  .scriptName('alluxio')
  .usage('$0 <command> [options]')
  .option('conf', { type: 'string', array: true, describe: 'property override key=value (repeatable); also read from $ALLUXIO_CONF_DIR/alluxio-site.properties' })
  .command('coordinator', 'Run the coordinator in the foreground', (y) => y, (args) => runCoordinator(args))
  .command('worker [action] [id]', 'Run a worker in the foreground; "worker list" lists workers (id, address, ports, state, cache used/capacity); "worker decommission ID" drains one out of the cluster', (y) => workerListCommand(y as never)
    .positional('action', { choices: ['list', 'decommission'] as const, describe: 'list: show the workers the coordinator knows; decommission: take one out for good' })
    .positional('id', { type: 'string', describe: 'decommission: the worker id' }),
  (args) => (args.action === 'list' ? workerList(args) : args.action === 'decommission' ? workerDecommission(args) : runWorker(args)))
  .command('cluster <action>', 'Run a local cluster (a coordinator and N workers) in the foreground', (y) => y
    .positional('action', { choices: ['start'] as const, demandOption: true })
    .option('workers', { type: 'number', default: 3, describe: 'number of workers' })
    .option('data-dir', { type: 'string', describe: 'where state, caches, logs and the default UFS live (default ./data)' }),
  (args) => clusterStart(args as GlobalArgs & { workers: number; 'data-dir'?: string }))
  .command('mount', 'Manage the mount table', (y) => mountCommands(y as never))
  .command('fs', 'Browse the namespace through the S3 API', (y) => fsCommands(y as never))
  .command('async-persist', 'Inspect the write cache\'s background persistence', (y) => asyncPersistCommands(y as never))
  .command('job', 'Preload jobs: load a path into the cache, stop, resume, status', (y) => jobCommands(y as never))
  .command('conf', 'Inspect configuration', (y) => confCommands(y as never))
  .command('pathconfig', 'Path-level write policies (show, edit, set, unset, resolve)', (y) => pathConfigCommands(y as never))
  .command('credentials', 'S3 access keys of SIGV4 mode (create, list, delete)', (y) => credentialsCommands(y as never))
  .command('bucket', 'Bucket owners and grants (show, grant, revoke, set-owner)', (y) => bucketCommands(y as never))
  .demandCommand(1, 'name a command; see alluxio --help')
  .strict()
  .help()
  .fail((msg, err) => {
    if (err) throw err;
    fail(msg);
  });

try {
  await cli.parseAsync();
} catch (err) {
  if (err instanceof CliError || err instanceof ConfigError) fail(err.message);
  fail(err instanceof Error ? err.message : String(err));
}
