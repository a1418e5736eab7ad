/**
 * The two load generators: `wrk` for raw unsigned GETs (the fastest client there is, so the
 * server is what is measured), and N concurrent loops of the AWS SDK for signed work (PUTs,
 * listings, multipart), each loop timing every operation.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** One measurement of one workload against one target. Latencies in milliseconds. */
export interface Measurement {
  ops: number;
  /** Operations per second. */
  opsPerSec: number;
  /** Payload megabytes (10^6 bytes) per second. */
  mbPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  seconds: number;
  /** Anything the reader needs (e.g. the peak RSS). */
  extra?: Record<string, number>;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Builds a Measurement from per-operation latencies (ms), payload bytes and wall time. */
export function summarize(latencies: number[], bytes: number, seconds: number, errors = 0): Measurement {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    ops: sorted.length,
    opsPerSec: sorted.length / seconds,
    mbPerSec: bytes / 1e6 / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors,
    seconds,
  };
}

// wrk reports its own summary as JSON through a `done` hook, so nothing is parsed from its
// human-readable output. Any non-2xx answer counts as an error (a fast 403 proves nothing).
const WRK_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"bytes":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.bytes, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

export class Wrk {
  private script = '';

  constructor(private readonly tmpDir: string) {}

  /**
   * Runs wrk against one URL. `bodyBytes` is the payload of one answer: MB/s counts payload,
   * not headers, so every server is compared on the same bytes.
   */
  async run(url: string, opts: { connections: number; seconds: number; bodyBytes: number; threads?: number }): Promise<Measurement> {
    if (!this.script) {
      this.script = path.join(this.tmpDir, 'wrk-report.lua');
      await fs.writeFile(this.script, WRK_SCRIPT);
    }
    const threads = Math.min(opts.threads ?? 2, opts.connections);
    // wrk takes whole seconds.
    const args = ['-t', String(threads), '-c', String(opts.connections), '-d', `${Math.max(1, Math.round(opts.seconds))}s`, '--timeout', '30s', '-s', this.script, url];
    const out = await runProgram('wrk', args, (opts.seconds + 60) * 1000);
    const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
    if (!line) throw new Error(`wrk printed no report for ${url}: ${out.trim().slice(-400)}`);
    const r = JSON.parse(line.slice(8)) as { requests: number; bytes: number; duration_us: number; errors: number; p50_us: number; p99_us: number };
    const seconds = r.duration_us / 1e6;
    const ok = Math.max(0, r.requests - r.errors);
    return {
      ops: r.requests,
      opsPerSec: r.requests / seconds,
      mbPerSec: (ok * opts.bodyBytes) / 1e6 / seconds,
      p50: r.p50_us / 1000,
      p99: r.p99_us / 1000,
      errors: r.errors,
      seconds,
    };
  }
}

/** Runs a program to completion and returns stdout; a non-zero exit is an error with its stderr. */
export function runProgram(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (err) => { clearTimeout(timer); reject(new Error(`cannot run ${cmd}: ${err.message}`)); });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? code}): ${(stderr || stdout).trim().slice(-400)}`));
    });
  });
}

export interface S3Target {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** An SDK client with its own keep-alive agent sized for `connections` concurrent loops. */
export function sdkClient(t: S3Target, connections: number): S3Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  return new S3Client({
    endpoint: t.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
    // Checksums only where S3 requires them: the client's CPU (shared with the servers on this
    // machine) is spent on the same work for every target.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({ httpAgent: agent, connectionTimeout: 10_000, requestTimeout: 300_000 }),
    maxAttempts: 1,
  });
}

/** What one operation moved; `ms` when only part of it is what is measured (e.g. the GET of a PUT-then-GET). */
export type OpResult = number | { bytes: number; ms: number };

/**
 * `connections` loops run `op(loop, seq)` back to back for `seconds` (or until `maxOps`
 * operations in all); each resolves to the payload bytes it moved. Failures are counted, and
 * the first one is kept to explain a row full of errors.
 */
export async function loops(connections: number, seconds: number, op: (loop: number, seq: number) => Promise<OpResult>, maxOps = Infinity): Promise<Measurement & { firstError?: string }> {
  const latencies: number[] = [];
  let bytes = 0;
  let errors = 0;
  let firstError: string | undefined;
  let issued = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async (_, loop) => {
    while (performance.now() < deadline && issued < maxOps) {
      const seq = issued++;
      const t0 = performance.now();
      try {
        const r = await op(loop, seq);
        bytes += typeof r === 'number' ? r : r.bytes;
        latencies.push(typeof r === 'number' ? performance.now() - t0 : r.ms);
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
        if (errors > 50 && errors > latencies.length) break; // a broken target: stop hammering it
      }
    }
  }));
  const m = summarize(latencies, bytes, (performance.now() - started) / 1000, errors);
  return firstError ? { ...m, firstError } : m;
}

/** Reads the body of an SDK GetObject answer to the end; resolves to its length. */
export async function drain(body: unknown): Promise<number> {
  let n = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) n += chunk.length;
  return n;
}

/** VmRSS of a process in bytes, or 0 once it is gone. */
export async function rssOf(pid: number): Promise<number> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
