/**
 * Bucket-level metadata the whole cluster shares: today the bucket tag set (S3
 * Put/Get/DeleteBucketTagging). Any worker may serve a bucket request, so this lives here, in
 * the coordinator's durable state, not on one worker. The worker validates tags (S3 rules)
 * before it calls; this module only keeps them.
 */
import type { BucketTagging } from '../proto/index.js';
import type { ClusterState } from './cluster-state.js';
import { CoordinatorError } from './errors.js';

export class BucketMetadata {
  constructor(private readonly state: ClusterState) {}

  private name(bucket: string | undefined): string {
    if (!bucket) throw new CoordinatorError('INVALID_ARGUMENT', 'a bucket name is required');
    return bucket;
  }

  getTagging(bucket: string | undefined): BucketTagging {
    const name = this.name(bucket);
    const tags = this.state.getBucketTags(name);
    return { bucket: name, tags: tags ?? {}, present: tags !== undefined };
  }

  async putTagging(req: BucketTagging): Promise<void> {
    const name = this.name(req.bucket);
    this.state.setBucketTags(name, { ...(req.tags ?? {}) });
    await this.state.commit(`bucket tagging ${name}`, { bump: false });
  }

  async deleteTagging(bucket: string | undefined): Promise<void> {
    const name = this.name(bucket);
    if (this.state.getBucketTags(name) === undefined) return;
    this.state.setBucketTags(name, undefined);
    await this.state.commit(`bucket tagging removed ${name}`, { bump: false });
  }
}
