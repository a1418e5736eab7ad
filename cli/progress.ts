/**
 * Progress of a load job as a person reads it: files done/total, bytes, rate and ETA. On a
 * terminal one line is redrawn in place; otherwise a plain line is printed every few seconds
 * (logs and CI output stay readable).
 */
import type { JobInfo } from '../proto/index.js';
import { formatBytes } from './common.js';

export interface RateSample {
  atMs: number;
  files: number;
  bytes: number;
}

/** Rates over the samples of the last `windowMs` (the job's own history before that is ignored). */
export function rates(samples: readonly RateSample[], windowMs = 10_000): { filesPerSec: number; bytesPerSec: number } {
  if (samples.length < 2) return { filesPerSec: 0, bytesPerSec: 0 };
  const last = samples[samples.length - 1];
  const first = samples.find((s) => last.atMs - s.atMs <= windowMs) ?? samples[0];
  const secs = (last.atMs - first.atMs) / 1000;
  if (secs <= 0) return { filesPerSec: 0, bytesPerSec: 0 };
  return { filesPerSec: (last.files - first.files) / secs, bytesPerSec: (last.bytes - first.bytes) / secs };
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function bar(fraction: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** One line: `load-1a2b [#####.....] 5000/10000 files (2 failed) 4.8MiB/9.8MiB 1200 files/s 1.1MiB/s ETA 4s`. */
export function progressLine(job: JobInfo, samples: readonly RateSample[]): string {
  const settled = Number(job.files_done) + Number(job.files_failed);
  if (!job.listing_done) return `${job.id} ${job.state} listing ${job.path}: ${job.files_total} files (${formatBytes(Number(job.bytes_total))}) so far`;
  const total = Number(job.files_total);
  const { filesPerSec, bytesPerSec } = rates(samples);
  const bytesLeft = Number(job.bytes_total) - Number(job.bytes_done);
  const filesLeft = total - settled;
  // Bytes drive the ETA when objects are big; file count when they are tiny.
  const eta = filesLeft === 0 ? 0 : bytesPerSec > 0 && bytesLeft > 0 ? (bytesLeft / bytesPerSec) * 1000 : filesPerSec > 0 ? (filesLeft / filesPerSec) * 1000 : NaN;
  return [
    job.id,
    job.state,
    bar(total === 0 ? 1 : settled / total),
    `${job.files_done}/${total} files${Number(job.files_failed) ? ` (${job.files_failed} failed)` : ''}`,
    `${formatBytes(Number(job.bytes_done))}/${formatBytes(Number(job.bytes_total))}`,
    `${Math.round(filesPerSec)} files/s ${formatBytes(Math.round(bytesPerSec))}/s`,
    `ETA ${formatDuration(eta)}`,
  ].join(' ');
}

/** The last line of a job that ended. */
export function summaryLine(job: JobInfo): string {
  const took = formatDuration((Number(job.end_ms) || Date.now()) - Number(job.start_ms));
  switch (job.state) {
    case 'COMPLETED':
      return `${job.id} COMPLETED: ${job.files_done} of ${job.files_total} files loaded (${formatBytes(Number(job.bytes_done))}) in ${took}, ${job.files_failed} failed`;
    case 'STOPPED':
      return `${job.id} STOPPED: ${job.files_done} of ${job.files_total} files loaded, ${job.files_failed} failed; resume with: alluxio job load ${job.path}`;
    case 'FAILED':
      return `${job.id} FAILED: ${job.error}`;
    default:
      return `${job.id} ${job.state}: ${job.files_done} of ${job.files_total} files loaded`;
  }
}
