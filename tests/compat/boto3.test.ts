/**
 * boto3 (machine python, default configuration) against one 3-worker cluster:
 * - the compat scenario (tests/compat/python/scenario_boto3.py), once through the keys' owner and
 *   once through a non-owner, with upload_file/download_file at s3transfer's 8 MiB thresholds, a
 *   managed multipart copy (UploadPartCopy), and uploads over plain http checked byte for byte in
 *   the UFS;
 * - the broader boto3 flows (tests/compat/python/boto3_flows.py).
 * A missing python3 or boto3 is a failure, never a skip.
 */
import { describe, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/cluster.js';
import { BOTO3_ENV } from './client-config.js';
import { DEFAULT_KEYS, MODES, SMALL, STEP, exec, explain, useHarness, type Plan } from './scenario.js';

const PY = path.join(REPO_ROOT, 'tests', 'compat', 'python');

/** Nothing from the user's environment may change what boto3 sends. */
const PY_ENV = BOTO3_ENV;

/** Script step id → the shared step name. */
const STEPS: [string, string][] = [
  ['mb', STEP.mb],
  ['putSmall', STEP.putSmall],
  ['putBig', `${STEP.putBig} (upload_file, 8 MiB multipart)`],
  ['listRecursive', STEP.listRecursive],
  ['listDelimiter', STEP.listDelimiter],
  ['headSmall', STEP.headSmall],
  ['storedHeaders', STEP.storedHeaders],
  ['getSmall', STEP.getSmall],
  ['getBig', `${STEP.getBig} (download_file: ranged GETs with If-Match)`],
  ['range', STEP.range],
  ['copy', STEP.copy],
  ['copyBig', `${STEP.copyBig} (s3.copy)`],
  ['tagging', STEP.tagging],
  ['metadata', STEP.metadata],
  ['plainHttp', 'uploads over plain http are stored byte-exact in the UFS (put_object file body; upload_fileobj non-seekable, multipart)'],
  ['deleteMany', STEP.deleteMany],
  ['rb', STEP.rb],
];

interface PyStep { step: string; ok: boolean; error?: string; trace?: string; info?: string; ms: number }

describe('boto3 scenario', () => {
  const h = useHarness('boto3');

  h.step('', STEP.installed, async () => {
    const r = await exec('python3', ['-c', 'import boto3, botocore, s3transfer; print(boto3.__version__, botocore.__version__, s3transfer.__version__)'], { timeoutMs: 60_000, env: PY_ENV }).catch((e: Error) => assert.fail(`python3 with boto3 is required for this suite: ${e.message}`));
    assert.equal(r.code, 0, `python3 with boto3 is required for this suite (pip install boto3):\n${explain(r)}`);
    const [b, bc, st] = r.stdout.trim().split(' ');
    h.version = `boto3 ${b}, botocore ${bc}, s3transfer ${st}`;
  });

  for (const mode of MODES) {
    describe(`${mode} endpoint`, () => {
      let p: Plan;
      const results = new Map<string, PyStep>();
      let run = '';
      before(async () => {
        p = h.plan(mode, { ...DEFAULT_KEYS, bigCopy: (i) => `copies/big-copy-${i}.bin`, plain: (i) => `plain-${i}.bin`, stream: (i) => `stream/fileobj-${i}.bin` });
        console.log(p.describe());
        const plan = {
          endpoint: p.endpoint, bucket: p.bucket, keys: p.keys, bigFile: h.bigFile, bigMd5: h.bigMd5, bigSize: h.bigSize,
          ufsRoot: h.cluster.ufsRoot, tmp: h.tmp, small: { ...SMALL, body: SMALL.body.toString('latin1') },
        };
        const r = await exec('python3', [path.join(PY, 'scenario_boto3.py')], { env: { ...PY_ENV, SCENARIO_PLAN: JSON.stringify(plan) }, timeoutMs: 400_000 }).catch((e: Error) => {
          run = e.message;
          return undefined;
        });
        if (!r) return;
        for (const line of r.stdout.split('\n')) {
          if (line.startsWith('STEP ')) {
            const s = JSON.parse(line.slice(5)) as PyStep;
            results.set(s.step, s);
            if (s.info) console.log(`boto3 ${mode} ${s.step}: ${s.info}`);
          }
        }
        run = explain(r, 3000);
      }, { timeout: 420_000 });

      for (const [id, name] of STEPS) {
        h.step(mode, name, async () => {
          const s = results.get(id);
          assert.ok(s, `scenario_boto3.py reported nothing for step ${id} (it crashed or was killed):\n${run}`);
          assert.ok(s.ok, `${s.error}\n${s.trace ?? ''}`);
        });
      }
    });
  }

  describe('boto3 flows (tests/compat/python/boto3_flows.py)', () => {
    h.step('', 'every boto3 flow passes', async () => {
      const r = await exec('python3', [path.join(PY, 'boto3_flows.py')], {
        env: {
          ...PY_ENV,
          ENDPOINT: h.cluster.endpoint,
          WORKER_ENDPOINTS: h.cluster.workers.map((w) => w.endpoint).join(','),
          BUCKET_PREFIX: 'boto3',
          UFS_ROOT: h.cluster.ufsRoot,
        },
        timeoutMs: 300_000,
      });
      // unittest's verbose lines: one per flow, then "Ran N tests" and OK/FAILED.
      for (const line of r.stderr.split('\n').filter((l) => / \.\.\. |^Ran \d+ tests|^(OK|FAILED)/.test(l))) console.log(line);
      assert.equal(r.code, 0, `boto3_flows.py failed:\n${explain(r, 20_000)}\n--- cluster logs\n${h.cluster.logs()}`);
    }, 320_000);
  });
});
