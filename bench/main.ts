/**
 * `npm run bench`: our cluster and its peers side by side on loopback, every workload against
 * every peer that can do it, interleaved (workload W: peer A, B, …, ours; again ×runs) so that
 * drift of a shared machine hits all alike; medians, ratios, target checks, BENCHMARKS.md.
 *
 * Flags: --smoke, --only <id[,id]>, --runs N, --duration S, --no-write, --cpu-prof <dir>,
 * --list. Progress goes to stderr; the tables to stdout.
 */
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchEnv, type BenchOptions } from './env.js';
import { machineInfo } from './machine.js';
import { checkTargets, Results, resultsSection, table, targetsTable, writeBenchmarks } from './report.js';
import { ensureTools } from './tools.js';
import { workloads } from './workloads.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

class UsageError extends Error {}

function options(argv: string[]): BenchOptions & { write: boolean; list: boolean; keep: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      runs: { type: 'string' },
      duration: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      list: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (v: string | undefined, name: string, def: number): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got ${v}`);
    return n;
  };
  const smoke = values.smoke ?? false;
  return {
    smoke,
    runs: Math.round(num(values.runs, 'runs', smoke ? 1 : 3)),
    duration: num(values.duration, 'duration', smoke ? 1 : 4),
    only: values.only?.flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean),
    cpuProf: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : undefined,
    write: !values['no-write'] && !smoke,
    list: values.list ?? false,
    keep: values.keep ?? false,
  };
}

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  const say = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'alluxio-bench-'));
  const env = new BenchEnv(opts, tmp, say);
  let all = workloads(env);
  if (opts.list) {
    for (const w of all) console.log(`${w.id.padEnd(16)} ${w.title}`);
    return 0;
  }
  if (opts.only) {
    const unknown = opts.only.filter((id) => !all.some((w) => w.id === id || w.id.startsWith(id)));
    if (unknown.length) throw new UsageError(`unknown workload ${unknown.join(', ')}; --list shows them`);
    all = all.filter((w) => opts.only!.some((id) => w.id === id || w.id.startsWith(id)));
  }
  ensureTools(say);
  const machine = machineInfo();
  const started = performance.now();
  const results = new Results();
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    say('interrupted: stopping every server');
    void env.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await env.start();
    for (const w of all) {
      say(`workload ${w.id}: ${w.title}`);
      try {
        await w.setup?.();
      } catch (err) {
        for (const t of w.targets) results.row(w, t.name, t.role).failure = `setup: ${(err as Error).message}`;
        say(`  setup failed: ${(err as Error).message}`);
        continue;
      }
      const runs = w.runs ?? opts.runs;
      for (let run = 0; run < runs; run++) {
        for (const t of w.targets) {
          const row = results.row(w, t.name, t.role);
          if (row.failure) continue;
          try {
            const m = await t.run(run);
            row.runs.push(m);
            const firstError = (m as { firstError?: string }).firstError;
            say(`  run ${run + 1}/${runs} ${t.name}: ${m.opsPerSec.toFixed(1)} ops/s, ${m.mbPerSec.toFixed(1)} MB/s, p50 ${m.p50.toFixed(2)} ms${m.errors ? `, ${m.errors} errors (${firstError ?? 'non-2xx answers'})` : ''}`);
            if (m.ops === 0 || m.errors > m.ops / 2) row.failure = `${m.errors} errors in ${m.ops} operations: ${firstError ?? 'non-2xx answers'}`;
          } catch (err) {
            row.failure = (err as Error).message.split('\n')[0]!;
            say(`  run ${run + 1}/${runs} ${t.name} failed: ${row.failure}`);
          }
          await w.settle?.().catch((err: Error) => say(`  settle failed: ${err.message}`));
        }
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!stopping) await env.close();
    if (!opts.keep) await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    else say(`kept ${tmp}`);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const checks = checkTargets(results);
  console.log(`\n## Every workload against every peer (medians of ${opts.runs} run${opts.runs > 1 ? 's' : ''}, ${opts.duration} s each)\n`);
  console.log(table(results));
  console.log('\n## Targets\n');
  console.log(targetsTable(checks));
  console.log(`\nwall time: ${wallSeconds.toFixed(0)} s`);
  if (opts.write && !opts.only) {
    const file = path.join(REPO_ROOT, 'BENCHMARKS.md');
    await writeBenchmarks(file, resultsSection({ machine, runs: opts.runs, duration: opts.duration, smoke: opts.smoke, wallSeconds, results, checks }));
    say(`wrote ${file}`);
  } else if (opts.write) {
    say('--only: BENCHMARKS.md left as it is (it records whole runs)');
  }
  if (results.failed.length) {
    say(`${results.failed.length} row(s) failed: ${results.failed.map((r) => `${r.workload.id}/${r.target}`).join(', ')}`);
    return 1;
  }
  return 0;
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  // One clear line for what the user can fix; the stack only for what they cannot.
  const known = err instanceof UsageError || err.name === 'MissingTool' || (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
  process.stderr.write(`bench: ${known ? err.message : err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
