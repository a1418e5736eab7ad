/**
 * `node dist/bench/profile-top.js <file.cpuprofile> [N] [window-seconds]`: the functions a V8 CPU profile (from
 * `npm run bench -- --cpu-prof <dir>`) spent the most time in, by self time and by total time
 * (self plus callees), to say where a worker's time went; with a window, only over the busiest
 * that many seconds (the load rather than start-up).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/');
  return `${f.functionName || '(anonymous)'} ${file ? `${file}:${f.lineNumber + 1}` : ''}`.trim();
}

/**
 * Keeps only the samples of the busiest `seconds`-long window (least idle): the load, without
 * start-up and the other workloads' idle time.
 */
export function busiestWindow(p: Profile, seconds: number): Profile {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const times: number[] = [];
  let t = 0;
  for (const d of p.timeDeltas) times.push((t += d));
  const busy = p.samples.map((id) => byId.get(id)?.callFrame.functionName !== '(idle)');
  const span = seconds * 1e6;
  let best = 0;
  let bestStart = 0;
  let acc = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    if (busy[hi]) acc += p.timeDeltas[hi] ?? 0;
    while (times[hi]! - times[lo]! > span) {
      if (busy[lo]) acc -= p.timeDeltas[lo] ?? 0;
      lo++;
    }
    if (acc > best) { best = acc; bestStart = lo; }
  }
  const keep = (i: number) => i >= bestStart && times[i]! - times[bestStart]! <= span;
  return { nodes: p.nodes, samples: p.samples.filter((_, i) => keep(i)), timeDeltas: p.timeDeltas.filter((_, i) => keep(i)) };
}

export function topFunctions(p: Profile, n: number): { self: [string, number][]; total: [string, number][]; totalMs: number } {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    totalUs += us;
    const node = byId.get(id)!;
    self.set(label(node), (self.get(label(node)) ?? 0) + us);
    // Each distinct function on the stack gets the sample once (recursion counted once).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + us);
    }
  }
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, v / 1000] as [string, number]);
  return { self: top(self), total: top(total), totalMs: totalUs / 1000 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-top.js <file.cpuprofile> [N] [window-seconds]\n');
    process.exitCode = 1;
  } else {
    let profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const window = Number(process.argv[4] ?? 0);
    if (window > 0) profile = busiestWindow(profile, window);
    const { self, total, totalMs } = topFunctions(profile, Number(process.argv[3] ?? 25));
    const pct = (ms: number) => `${((100 * ms) / totalMs).toFixed(1).padStart(5)}%`;
    console.log(`profile: ${totalMs.toFixed(0)} ms sampled\n\nby self time:`);
    for (const [name, ms] of self) console.log(`${pct(ms)}  ${name}`);
    console.log('\nby total time (self + callees):');
    for (const [name, ms] of total) console.log(`${pct(ms)}  ${name}`);
  }
}
