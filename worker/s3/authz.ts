/**
 * Authorization: may this identity run this S3 operation? It depends only on the Identity the
 * authenticator settled (whatever the method), the configured mode and the bucket owners and
 * grants the coordinator pushes. SIMPLE mode checks nothing (Alluxio's behaviour); SIGV4 and
 * OIDC check every operation before it reads or writes anything.
 *
 * Rules: admins may do everything; the owner may do everything on their bucket; a read grant
 * allows reads, a write grant reads and writes; anonymous callers may only read buckets with
 * the anonymous read grant. Bucket creation needs any authenticated user (who becomes the
 * owner); deleting a bucket, its tagging and ACL writes need the owner (or an admin).
 * A sub-directory bucket "a:b" is governed by bucket a.
 */
import type { Logger } from '../../common/log.js';
import type { Identity } from './auth.js';
import { S3Error } from './errors.js';
import type { S3Request } from './router.js';

export type AuthMode = 'SIMPLE' | 'SIGV4' | 'OIDC';

/** What an operation needs on its bucket. */
export type Access = 'read' | 'write' | 'owner';
/** `list`: ListBuckets, filtered bucket by bucket; `create`: CreateBucket. */
export type OpAccess = Access | 'list' | 'create';

/** The one table from operation to what it needs (copies also need read on the source). */
export const OP_ACCESS: Readonly<Record<S3Request['op'], OpAccess>> = Object.freeze({
  ListBuckets: 'list',
  CreateBucket: 'create',
  HeadBucket: 'read',
  DeleteBucket: 'owner',
  GetBucketLocation: 'read',
  ListObjects: 'read',
  ListObjectsV2: 'read',
  DeleteObjects: 'write',
  GetBucketPolicy: 'read',
  GetBucketCors: 'read',
  ListMultipartUploads: 'read',
  GetBucketTagging: 'read',
  PutBucketTagging: 'owner',
  DeleteBucketTagging: 'owner',
  GetBucketAcl: 'read',
  PutBucketAcl: 'owner',
  GetBucketVersioning: 'read',
  GetObject: 'read',
  HeadObject: 'read',
  PutObject: 'write',
  DeleteObject: 'write',
  CopyObject: 'write',
  CreateMultipartUpload: 'write',
  UploadPart: 'write',
  UploadPartCopy: 'write',
  CompleteMultipartUpload: 'write',
  AbortMultipartUpload: 'write',
  ListParts: 'read',
  GetObjectTagging: 'read',
  PutObjectTagging: 'write',
  DeleteObjectTagging: 'write',
  GetObjectAcl: 'read',
  PutObjectAcl: 'owner',
});

export interface BucketGrantsView {
  readonly owner: string;
  readonly grants: ReadonlyMap<string, 'read' | 'write'>;
  readonly anonymousRead: boolean;
}

/** Where the owners and grants come from (the coordinator's watch stream). */
export interface PermissionSource {
  readonly ready: boolean;
  get(bucket: string): BucketGrantsView | undefined;
  bucketCreated(bucket: string, owner: string): Promise<void>;
  bucketDeleted(bucket: string): Promise<void>;
}

/** What the S3 edge asks of authorization (S3Services.access). */
export interface BucketAccess {
  /** Throws AccessDenied (or ServiceUnavailable before the grants are known) unless allowed. */
  authorize(identity: Identity, s3: S3Request, headers: Record<string, string | string[] | undefined>): void;
  /** ListBuckets shows only the buckets this is true for. */
  mayRead(identity: Identity, bucket: string): boolean;
  /** Records the creator as owner; throws only when the record is needed to enforce access. */
  bucketCreated(identity: Identity, bucket: string, log: Logger): Promise<void>;
  bucketDeleted(bucket: string, log: Logger): Promise<void>;
}

/** The bucket whose grants govern `bucket` ("a:b" is a directory of bucket a). */
export function governingBucket(bucket: string): string {
  const i = bucket.indexOf(':');
  return i < 0 ? bucket : bucket.slice(0, i);
}

/** The bucket named by x-amz-copy-source (`[/]bucket/key[?versionId=…]`, URL-encoded). */
export function copySourceBucket(header: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined) return undefined;
  const path = raw.split('?')[0].replace(/^\/+/, '');
  const slash = path.indexOf('/');
  const encoded = slash < 0 ? path : path.slice(0, slash);
  try {
    return decodeURIComponent(encoded) || undefined;
  } catch {
    return undefined;
  }
}

function denied(): S3Error {
  return new S3Error('AccessDenied');
}

export class Authorizer implements BucketAccess {
  private readonly admins: ReadonlySet<string>;

  constructor(private readonly mode: AuthMode, admins: Iterable<string>, private readonly source: PermissionSource) {
    this.admins = new Set([...admins].map((a) => a.trim()).filter(Boolean));
  }

  get enforcing(): boolean {
    return this.mode !== 'SIMPLE';
  }

  /** Whether `identity` has `access` on `bucket` (pure lookup; no mode check). */
  allows(identity: Identity, bucket: string, access: Access): boolean {
    const anonymous = identity.method === 'anonymous' || identity.user === '';
    if (!anonymous && this.admins.has(identity.user)) return true;
    const p = this.source.get(governingBucket(bucket));
    if (!p) return false;
    if (anonymous) return access === 'read' && p.anonymousRead;
    if (p.owner !== '' && p.owner === identity.user) return true;
    const grant = p.grants.get(identity.user);
    if (access === 'read') return grant === 'read' || grant === 'write';
    if (access === 'write') return grant === 'write';
    return false;
  }

  authorize(identity: Identity, s3: S3Request, headers: Record<string, string | string[] | undefined>): void {
    if (!this.enforcing) return;
    if (!this.source.ready) throw new S3Error('ServiceUnavailable', 'This worker has not received the bucket permissions from the coordinator yet.');
    const need = OP_ACCESS[s3.op];
    if (need === 'list' || !('bucket' in s3)) return;
    if (need === 'create') {
      // A sub-directory bucket is a directory inside its parent: a write there.
      if (s3.bucket.includes(':')) {
        if (!this.allows(identity, s3.bucket, 'write')) throw denied();
      } else if (identity.method === 'anonymous' || identity.user === '') {
        throw denied();
      }
      return;
    }
    if (!this.allows(identity, s3.bucket, need)) throw denied();
    if (s3.op === 'CopyObject' || s3.op === 'UploadPartCopy') {
      const source = copySourceBucket(headers['x-amz-copy-source']);
      if (source !== undefined && !this.allows(identity, source, 'read')) throw denied();
    }
  }

  mayRead(identity: Identity, bucket: string): boolean {
    return !this.enforcing || this.allows(identity, bucket, 'read');
  }

  async bucketCreated(identity: Identity, bucket: string, log: Logger): Promise<void> {
    // Sub-directory buckets are governed by their parent; anonymous creators own nothing.
    if (bucket.includes(':') || identity.user === '' || identity.method === 'anonymous') return;
    try {
      await this.source.bucketCreated(bucket, identity.user);
    } catch (err) {
      // Without the record the creator would be locked out of their own bucket.
      if (this.enforcing) throw err;
      log.warn({ err: (err as Error).message, bucket }, 'could not record the bucket owner');
    }
  }

  async bucketDeleted(bucket: string, log: Logger): Promise<void> {
    if (bucket.includes(':')) return;
    await this.source.bucketDeleted(bucket).catch((err) => log.warn({ err: (err as Error).message, bucket }, 'could not drop the deleted bucket\'s permissions'));
  }
}
