/**
 * Bucket owners and grants for the whole cluster. Workers enforce them in the SIGV4 and OIDC
 * modes (worker/s3/authz.ts); this module keeps them in the coordinator's durable state and
 * pushes the full list to every watching worker after each change, so a grant or a revoke
 * takes effect everywhere within the stream's latency and no worker asks per request.
 *
 * A bucket created through S3 has an owner (its creator). Buckets that exist only as mount
 * points or UFS directories have none and are governed by their grants alone.
 */
import type { Logger } from '../common/log.js';
import type { BucketGrantRequest, BucketPermissions as BucketPermissionsMessage, BucketPermissionsSnapshot, SetBucketOwnerRequest } from '../proto/index.js';
import type { ClusterState } from './cluster-state.js';
import { CoordinatorError } from './errors.js';
import type { StoredBucketPermissions } from './state-store.js';

export interface PermissionsSink {
  send(snapshot: BucketPermissionsSnapshot): void;
  end(): void;
}

export interface BucketPermissionsOptions {
  /** Whether a bucket exists (a mount point, a directory of the root UFS, or a recorded one). */
  bucketExists: (bucket: string) => Promise<boolean>;
}

const EMPTY: StoredBucketPermissions = Object.freeze({ owner: '', grants: {}, anonymousRead: false });

function toMessage(bucket: string, p: StoredBucketPermissions | undefined): BucketPermissionsMessage {
  return { bucket, owner: p?.owner ?? '', grants: { ...(p?.grants ?? {}) }, anonymous_read: p?.anonymousRead ?? false, known: p !== undefined };
}

function bucketName(bucket: string | undefined): string {
  const name = (bucket ?? '').trim();
  if (name === '') throw new CoordinatorError('INVALID_ARGUMENT', 'a bucket name is required');
  if (name.includes('/')) throw new CoordinatorError('INVALID_ARGUMENT', `"${name}" is not a bucket name (no "/" allowed)`);
  return name;
}

function userName(user: string | undefined): string {
  const name = (user ?? '').trim();
  if (name === '') throw new CoordinatorError('INVALID_ARGUMENT', 'a user name is required');
  return name;
}

export class BucketPermissions {
  private readonly sinks = new Set<PermissionsSink>();
  // Versions order the snapshots of one coordinator run; a worker takes the first message of
  // every stream as it is, so they need not survive a restart.
  private version = 1;
  private closed = false;

  constructor(private readonly state: ClusterState, private readonly opts: BucketPermissionsOptions, private readonly log: Logger) {}

  get(bucket: string | undefined): BucketPermissionsMessage {
    const name = bucketName(bucket);
    return toMessage(name, this.state.getBucketPermissions(name));
  }

  /** Like get, but NOT_FOUND for a bucket that does not exist (the CLI's `show`). */
  async show(bucket: string | undefined): Promise<BucketPermissionsMessage> {
    const name = bucketName(bucket);
    await this.requireBucket(name);
    return this.get(name);
  }

  snapshot(): BucketPermissionsSnapshot {
    return { version: this.version, buckets: this.state.listBucketPermissions().map(([b, p]) => toMessage(b, p)) };
  }

  /**
   * Records the owner. `created` (CreateBucket) starts the bucket afresh: grants left from an
   * earlier bucket of the same name do not carry over.
   */
  async setOwner(req: Partial<SetBucketOwnerRequest>): Promise<BucketPermissionsMessage> {
    const name = bucketName(req.bucket);
    const owner = userName(req.owner);
    if (!req.created) await this.requireBucket(name);
    const before = this.state.getBucketPermissions(name);
    const next: StoredBucketPermissions = req.created ? { owner, grants: {}, anonymousRead: false } : { ...(before ?? EMPTY), owner };
    await this.change(name, before, next, req.created ? 'bucket created' : 'bucket owner set');
    this.log.info({ bucket: name, owner, created: Boolean(req.created) }, 'bucket owner set');
    return this.get(name);
  }

  /** Grants read or write to a user (or read to anonymous); permission none revokes. */
  async setGrant(req: Partial<BucketGrantRequest>): Promise<BucketPermissionsMessage> {
    const name = bucketName(req.bucket);
    const permission = req.permission ?? '';
    if (permission !== 'read' && permission !== 'write' && permission !== 'none') {
      throw new CoordinatorError('INVALID_ARGUMENT', `permission must be read, write or none, got "${permission}"`);
    }
    await this.requireBucket(name);
    const before = this.state.getBucketPermissions(name);
    const next: StoredBucketPermissions = { ...(before ?? EMPTY), grants: { ...(before?.grants ?? {}) } };
    let who: string;
    if (req.anonymous) {
      if (permission === 'write') throw new CoordinatorError('INVALID_ARGUMENT', 'anonymous users may only be granted read');
      next.anonymousRead = permission === 'read';
      who = '(anonymous)';
    } else {
      who = userName(req.user);
      if (permission === 'none') delete next.grants[who];
      else next.grants[who] = permission;
    }
    await this.change(name, before, next, 'bucket grant');
    this.log.info({ bucket: name, user: who, permission }, 'bucket grant changed');
    return this.get(name);
  }

  /** Forgets a bucket's owner and grants (DeleteBucket): a bucket made later starts afresh. */
  async delete(bucket: string | undefined): Promise<void> {
    const name = bucketName(bucket);
    const before = this.state.getBucketPermissions(name);
    if (!before) return;
    await this.change(name, before, undefined, 'bucket permissions removed');
    this.log.info({ bucket: name }, 'bucket permissions removed');
  }

  /** Registers a watching worker: it gets the current list now and a new one after every change. */
  watch(sink: PermissionsSink): () => void {
    if (this.closed) {
      sink.end();
      return () => undefined;
    }
    this.sinks.add(sink);
    this.sendTo(sink, this.snapshot());
    return () => void this.sinks.delete(sink);
  }

  close(): void {
    this.closed = true;
    for (const s of this.sinks) {
      try {
        s.end();
      } catch (err) {
        this.log.debug({ err }, 'ending a permissions watch stream failed');
      }
    }
    this.sinks.clear();
  }

  private async requireBucket(name: string): Promise<void> {
    if (this.state.getBucketPermissions(name)) return;
    let exists: boolean;
    try {
      exists = await this.opts.bucketExists(name);
    } catch (err) {
      throw new CoordinatorError('UNAVAILABLE', `cannot tell whether bucket ${name} exists: ${(err as Error).message}`, { cause: err });
    }
    if (!exists) throw new CoordinatorError('NOT_FOUND', `no such bucket: ${name}`);
  }

  // Durable first, then published; a failed save leaves the old permissions in force.
  private async change(name: string, before: StoredBucketPermissions | undefined, next: StoredBucketPermissions | undefined, reason: string): Promise<void> {
    this.state.setBucketPermissions(name, next);
    try {
      await this.state.commit(`${reason} ${name}`, { bump: false });
    } catch (err) {
      this.state.setBucketPermissions(name, before);
      throw err;
    }
    this.version += 1;
    const snap = this.snapshot();
    for (const s of this.sinks) this.sendTo(s, snap);
  }

  private sendTo(sink: PermissionsSink, snap: BucketPermissionsSnapshot): void {
    try {
      sink.send(snap);
    } catch (err) {
      this.log.warn({ err }, 'dropping a permissions watch stream that failed to write');
      this.sinks.delete(sink);
    }
  }
}
