/**
 * boto3 (default configuration) against a real 3-worker cluster: runs
 * tests/compat/python/boto3_flows.py and requires it to pass. A missing python3 or boto3 is a
 * failure, never a skip.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { REPO_ROOT, runCommand, startCluster, type TestCluster } from '../helpers/cluster.js';

const SCRIPT = path.join(REPO_ROOT, 'tests', 'compat', 'python', 'boto3_flows.py');

describe('boto3 against the cluster', () => {
  let c: TestCluster;
  before(async () => { c = await startCluster({ workers: 3 }); });
  after(async () => { await c?.close(); });

  it('python3 with boto3 is installed', async () => {
    const r = await runCommand('python3', ['-c', 'import boto3, botocore, s3transfer; print(boto3.__version__)'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `python3 with boto3 is required for this suite (pip install boto3):\n${r.stderr}`);
  });

  it('every boto3 flow passes (tests/compat/python/boto3_flows.py)', async (t) => {
    const r = await runCommand('python3', [SCRIPT], {
      env: {
        ENDPOINT: c.endpoint,
        WORKER_ENDPOINTS: c.workers.map((w) => w.endpoint).join(','),
        BUCKET_PREFIX: 'boto3',
        UFS_ROOT: c.ufsRoot,
        // Nothing from the user's environment may change what boto3 sends.
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_PROFILE: undefined,
        AWS_ENDPOINT_URL: undefined,
        AWS_ENDPOINT_URL_S3: undefined,
        AWS_REQUEST_CHECKSUM_CALCULATION: undefined,
        AWS_RESPONSE_CHECKSUM_VALIDATION: undefined,
        PYTHONUNBUFFERED: '1',
        PYTHONDONTWRITEBYTECODE: '1',
      },
      timeoutMs: 300_000,
    });
    // unittest's verbose lines: one per flow, then "Ran N tests" and OK/FAILED.
    for (const line of r.stderr.split('\n').filter((l) => / \.\.\. |^Ran \d+ tests|^(OK|FAILED)/.test(l))) t.diagnostic(line);
    if (r.code !== 0) {
      console.log(`--- boto3_flows.py stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- cluster logs\n${c.logs()}`);
    }
    assert.equal(r.code, 0, `boto3_flows.py failed (exit ${r.code}; null means it was killed at the time limit):\n${r.stderr.slice(-20_000)}`);
  });
});
