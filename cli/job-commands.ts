/**
 * `alluxio job load|stop|status|list`: preload jobs run by the coordinator. `job load PATH`
 * starts (or resumes) a job and watches it to the end with a progress line; the job itself lives
 * on the coordinator, so Ctrl-C only detaches the CLI.
 */
import type { Argv } from 'yargs';
import { OperationsService, type JobInfo, type JobListResponse } from '../proto/index.js';
import type { Config } from '../common/config/config.js';
import { callCoordinator, CliError, configFrom, formatBytes, table, type GlobalArgs } from './common.js';
import { formatDuration, progressLine, summaryLine, type RateSample } from './progress.js';

type LoadArgs = GlobalArgs & { path: string; stop?: boolean; resume?: boolean; wait?: boolean; interval?: number };

const POLL_MS = 500;

function ops<Res>(config: Config, method: string, req: object): Promise<Res> {
  return callCoordinator<Res>(config, method, req, OperationsService);
}

/** Polls the job until it ends (or Ctrl-C detaches); prints progress; answers the last state. */
async function watch(config: Config, first: JobInfo, intervalMs: number): Promise<JobInfo | 'detached'> {
  const tty = process.stdout.isTTY === true;
  const samples: RateSample[] = [];
  let job = first;
  let detached = false;
  let wake: (() => void) | undefined;
  const onSigint = (): void => {
    detached = true;
    wake?.();
  };
  process.once('SIGINT', onSigint);
  let lastPrinted = 0;
  try {
    for (;;) {
      samples.push({ atMs: Date.now(), files: Number(job.files_done) + Number(job.files_failed), bytes: Number(job.bytes_done) });
      if (samples.length > 200) samples.splice(0, 100);
      const ended = job.state !== 'RUNNING';
      if (tty) process.stdout.write(`\r\x1b[K${progressLine(job, samples)}`);
      else if (ended || Date.now() - lastPrinted >= intervalMs) {
        process.stdout.write(`${progressLine(job, samples)}\n`);
        lastPrinted = Date.now();
      }
      if (ended) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      if (detached) break;
      job = await ops<JobInfo>(config, 'JobGet', { id: job.id });
    }
  } finally {
    process.off('SIGINT', onSigint);
    if (tty) process.stdout.write('\n');
  }
  return detached ? 'detached' : job;
}

/** Prints how a job ended; a job that did not load everything is an error (exit 1). */
function finish(job: JobInfo): void {
  console.log(summaryLine(job));
  if (Number(job.files_failed) > 0) {
    process.stderr.write(`failed files:\n`);
    for (const f of job.failures) process.stderr.write(`  ${f.path}: ${f.reason}\n`);
    const more = Number(job.files_failed) - job.failures.length;
    if (more > 0) process.stderr.write(`  … and ${more} more\n`);
  }
  if (job.state === 'FAILED') throw new CliError(`job ${job.id} failed: ${job.error}`);
  if (job.state === 'STOPPED') throw new CliError(`job ${job.id} was stopped before it completed`);
  if (Number(job.files_failed) > 0) throw new CliError(`${job.files_failed} of ${job.files_total} files failed to load (job ${job.id})`);
}

async function load(args: LoadArgs): Promise<void> {
  const config = configFrom(args);
  if (args.stop) {
    const job = await ops<JobInfo>(config, 'JobStop', { path: args.path });
    console.log(summaryLine(job));
    return;
  }
  const job = await ops<JobInfo>(config, 'LoadStart', { path: args.path, resume_only: args.resume === true });
  const resumed = Number(job.files_done) + Number(job.files_failed) > 0 || job.listing_done;
  console.log(`${resumed ? 'Resumed' : 'Started'} ${job.id}: loading ${job.path} into the cache`);
  if (args.wait === false) {
    console.log(`Watch it with: alluxio job status ${job.id}; stop it with: alluxio job stop ${job.id}`);
    return;
  }
  const end = await watch(config, job, Math.max(0.2, args.interval ?? 2) * 1000);
  if (end === 'detached') {
    process.stderr.write(`Detached: job ${job.id} keeps running on the coordinator.\n`);
    process.stderr.write(`  watch it:  alluxio job status ${job.id}\n  stop it:   alluxio job stop ${job.id} (or alluxio job load ${job.path} --stop)\n  resume it: alluxio job load ${job.path}\n`);
    process.exitCode = 130;
    return;
  }
  finish(end);
}

function describe(job: JobInfo): string {
  const lines = [
    `id:        ${job.id}`,
    `type:      ${job.type}`,
    `path:      ${job.path}`,
    `state:     ${job.state}${job.error ? ` (${job.error})` : ''}`,
    `files:     ${job.files_done} loaded, ${job.files_failed} failed, ${job.files_total} total${job.listing_done ? '' : ' (listing)'}`,
    `bytes:     ${formatBytes(Number(job.bytes_done))} of ${formatBytes(Number(job.bytes_total))}`,
    `started:   ${new Date(Number(job.start_ms)).toISOString()}`,
    `elapsed:   ${formatDuration((Number(job.end_ms) || Date.now()) - Number(job.start_ms))}`,
  ];
  if (job.failures.length) {
    lines.push('failures:');
    for (const f of job.failures) lines.push(`  ${f.path}: ${f.reason}`);
  }
  return lines.join('\n');
}

function jobTable(jobs: JobInfo[]): string {
  const rows = [['ID', 'TYPE', 'STATE', 'PATH', 'FILES', 'FAILED', 'BYTES', 'STARTED']];
  for (const j of jobs) rows.push([j.id, j.type, j.state, j.path, `${j.files_done}/${j.files_total}`, String(j.files_failed), `${formatBytes(Number(j.bytes_done))}/${formatBytes(Number(j.bytes_total))}`, new Date(Number(j.start_ms)).toISOString()]);
  return table(rows);
}

export function jobCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command('load <path>', 'Preload every object under a path (/bucket/dir or s3://bucket/dir) into the cache; shows progress until the job ends', (a) => a
      .positional('path', { type: 'string', demandOption: true })
      .option('stop', { type: 'boolean', describe: 'stop the running load of this path' })
      .option('resume', { type: 'boolean', describe: 'only resume a stopped or failed load of this path (running the command again resumes too)' })
      .option('wait', { type: 'boolean', default: true, describe: 'watch the job until it ends (--no-wait: start it and return)' })
      .option('interval', { type: 'number', default: 2, describe: 'seconds between progress lines when stdout is not a terminal' })
      .conflicts('stop', 'resume'),
    (args) => load(args as LoadArgs))
    .command('stop <id>', 'Stop a running job (it can be resumed)', (a) => a.positional('id', { type: 'string', demandOption: true }), async (args) => {
      const job = await ops<JobInfo>(configFrom(args), 'JobStop', { id: args.id });
      console.log(summaryLine(job));
    })
    .command('status [id]', 'State and counters of a job (every job without an id)', (a) => a
      .positional('id', { type: 'string' })
      .option('json', { type: 'boolean', default: false }), async (args) => {
      const config = configFrom(args);
      if (args.id) {
        const job = await ops<JobInfo>(config, 'JobGet', { id: args.id });
        console.log(args.json ? JSON.stringify(job, null, 2) : describe(job));
        return;
      }
      const { jobs } = await ops<JobListResponse>(config, 'JobList', {});
      console.log(args.json ? JSON.stringify(jobs, null, 2) : jobs.length ? jobTable(jobs) : 'no jobs');
    })
    .command('list', 'Every job the coordinator knows', (a) => a.option('json', { type: 'boolean', default: false }), async (args) => {
      const { jobs } = await ops<JobListResponse>(configFrom(args), 'JobList', {});
      console.log(args.json ? JSON.stringify(jobs, null, 2) : jobs.length ? jobTable(jobs) : 'no jobs');
    })
    .demandCommand(1, 'name a job command: load, stop, status or list');
}
