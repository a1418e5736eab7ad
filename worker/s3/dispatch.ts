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
    case 'ListMultipartUploads': return multipart.listMultipartUploads(ctx, r.bucket);
    case 'GetBucketTagging': return bucket.getBucketTagging(ctx, r.bucket);
    case 'PutBucketTagging': return bucket.putBucketTagging(ctx, r.bucket);
    case 'DeleteBucketTagging': return bucket.deleteBucketTagging(ctx, r.bucket);
    case 'GetBucketAcl': return bucket.getBucketAcl(ctx, r.bucket);
    case 'PutBucketAcl': return bucket.putBucketAcl(ctx, r.bucket);
    case 'GetBucketVersioning': return bucket.getBucketVersioning(ctx, r.bucket);
    case 'GetObject': return object.getObject(ctx, r.bucket, r.key);
    case 'HeadObject': return object.headObject(ctx, r.bucket, r.key);
    case 'PutObject': return object.putObject(ctx, r.bucket, r.key);
    case 'DeleteObject': return object.deleteObject(ctx, r.bucket, r.key);
    case 'CopyObject': return object.copyObject(ctx, r.bucket, r.key);
    case 'GetObjectTagging': return object.getObjectTagging(ctx, r.bucket, r.key);
    case 'PutObjectTagging': return object.putObjectTagging(ctx, r.bucket, r.key);
    case 'DeleteObjectTagging': return object.deleteObjectTagging(ctx, r.bucket, r.key);
    case 'GetObjectAcl': return object.getObjectAcl(ctx, r.bucket, r.key);
    case 'PutObjectAcl': return object.putAcl(ctx, () => ctx.services.objects.statObject(r.bucket, r.key, { useCache: ctx.useCache }));
    case 'UploadPartCopy': return multipart.uploadPartCopy(ctx, r.bucket, r.key);
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
