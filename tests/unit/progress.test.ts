/** The load progress line and summary the CLI prints (cli/progress.ts), exact strings. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, progressLine, rates, summaryLine } from '../../cli/progress.js';
import type { JobInfo } from '../../proto/index.js';

const job = (over: Partial<JobInfo>): JobInfo => ({
  id: 'load-0000abcd', type: 'load', path: '/b/dir', state: 'RUNNING', files_total: 10000, files_done: 0, files_failed: 0,
  bytes_total: 10 * 1024 * 1024, bytes_done: 0, start_ms: 1_000_000, end_ms: 0, listing_done: true, failures: [], error: '', updated_ms: 0, ...over,
});

describe('load progress', () => {
  it('rates come from the recent samples', () => {
    assert.deepEqual(rates([{ atMs: 0, files: 0, bytes: 0 }]), { filesPerSec: 0, bytesPerSec: 0 });
    assert.deepEqual(rates([{ atMs: 0, files: 0, bytes: 0 }, { atMs: 2000, files: 100, bytes: 2048 }]), { filesPerSec: 50, bytesPerSec: 1024 });
    // Older than the window: ignored.
    assert.deepEqual(rates([{ atMs: 0, files: 0, bytes: 0 }, { atMs: 20_000, files: 1000, bytes: 0 }, { atMs: 21_000, files: 1010, bytes: 0 }], 5000), { filesPerSec: 10, bytesPerSec: 0 });
  });

  it('one line: bar, files, bytes, rates, ETA', () => {
    const line = progressLine(job({ files_done: 5000, files_failed: 2, bytes_done: 5 * 1024 * 1024 }), [
      { atMs: 0, files: 0, bytes: 0 },
      { atMs: 5000, files: 5002, bytes: 5 * 1024 * 1024 },
    ]);
    assert.equal(line, 'load-0000abcd RUNNING [##########..........] 5000/10000 files (2 failed) 5.0MiB/10.0MiB 1000 files/s 1.0MiB/s ETA 5s');
    assert.equal(progressLine(job({ listing_done: false, files_total: 42, bytes_total: 2048 }), []), 'load-0000abcd RUNNING listing /b/dir: 42 files (2.0KiB) so far');
    assert.match(progressLine(job({}), []), / 0 files\/s 0B\/s ETA -$/);
  });

  it('summaries say how the job ended and how to go on', () => {
    assert.equal(summaryLine(job({ state: 'COMPLETED', files_done: 9999, files_failed: 1, bytes_done: 1024, end_ms: 1_065_000 })), 'load-0000abcd COMPLETED: 9999 of 10000 files loaded (1.0KiB) in 1m05s, 1 failed');
    assert.equal(summaryLine(job({ state: 'STOPPED', files_done: 10 })), 'load-0000abcd STOPPED: 10 of 10000 files loaded, 0 failed; resume with: alluxio job load /b/dir');
    assert.equal(summaryLine(job({ state: 'FAILED', error: 'bucket b does not exist' })), 'load-0000abcd FAILED: bucket b does not exist');
    assert.equal(formatDuration(7_200_000), '2h00m');
    assert.equal(formatDuration(NaN), '-');
  });
});
