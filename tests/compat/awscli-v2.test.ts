/**
 * The compat scenario with the AWS CLI v2 (Debian package `awscli`, /usr/bin/aws; `aws` on PATH
 * may be v1, so v2 is called by its absolute path), default settings, against one 3-worker
 * cluster, through the keys' owner and through a non-owner. The 1 GB transfer is in
 * awscli-v2-1gb.test.ts.
 */
import { AWS_V2, awsCliScenario, awsVersion } from './awscli-scenario.js';

awsCliScenario('awscli-v2', 2, async () => {
  const version = await awsVersion(AWS_V2);
  if (!version) throw new Error(`the AWS CLI v2 is required at ${AWS_V2} (Debian package awscli; .ci/run installs it)`);
  return { cmd: AWS_V2, pre: [], version };
});
