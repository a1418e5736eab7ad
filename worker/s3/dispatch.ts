/** One exhaustive switch from operation to handler. */
import type { RequestContext } from './context.js';
import * as bucket from './handlers/bucket.js';
import * as object from './handlers/object.js';
import * as multipart from './handlers/multipart.js';

export async function dispatch(ctx: RequestContext): Promise<void> {
  const r = ctx.s3;
  switch (r.op) {
    case 'ListBuckets': return bucket.listBuckets(ctx);
    case 'CreateBucket': return bucket.createBucket(ctx, r.bucket);
    case 'HeadBucket': return bucket.headBucket(ctx, r.bucket);
    case 'DeleteBucket': return bucket.deleteBucket(ctx, r.bucket);
    case 'GetBucketLocation': return bucket.getBucketLocation(ctx, r.bucket);
    case 'GetBucketPolicy': return bucket.getBucketPolicy(ctx, r.bucket);
    case 'GetBucketCors': return bucket.getBucketCors(ctx, r.bucket);
    case 'ListObjects': return bucket.listObjects(ctx, r.bucket, false);
    case 'ListObjectsV2': return bucket.listObjects(ctx, r.bucket, true);
    case 'DeleteObjects': return bucket.deleteObjects(ctx, r.bucket);
    case 'GetObject': return object.getObject(ctx, r.bucket, r.key);
    case 'HeadObject': return object.headObject(ctx, r.bucket, r.key);
    case 'PutObject': return object.putObject(ctx, r.bucket, r.key);
    case 'DeleteObject': return object.deleteObject(ctx, r.bucket, r.key);
    case 'CreateMultipartUpload': return multipart.createMultipartUpload(ctx, r.bucket, r.key);
    case 'UploadPart': return multipart.uploadPart(ctx, r.bucket, r.key);
    case 'CompleteMultipartUpload': return multipart.completeMultipartUpload(ctx, r.bucket, r.key);
    case 'AbortMultipartUpload': return multipart.abortMultipartUpload(ctx, r.bucket, r.key);
    case 'ListParts': return multipart.listParts(ctx, r.bucket, r.key);
    default: {
      const never: never = r;
      throw new Error(`unhandled operation ${(never as { op: string }).op}`);
    }
  }
}
