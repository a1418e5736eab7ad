/**
 * Authorization as pure logic: the operation → permission table over requests the router
 * parses, and the Authorizer's decisions for owners, grants, admins, anonymous callers, copies
 * and sub-directory buckets in each mode.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../common/log.js';
import type { Identity } from '../../worker/s3/auth.js';
import { Authorizer, OP_ACCESS, copySourceBucket, governingBucket, type AuthMode, type BucketGrantsView, type OpAccess, type PermissionSource } from '../../worker/s3/authz.js';
import { S3Error } from '../../worker/s3/errors.js';
import { parseS3Request, type S3Request } from '../../worker/s3/router.js';

const quiet = createLogger('authz-test', 'fatal', new Writable({ write: (_c, _e, cb) => cb() }));

const CASES: [method: string, url: string, headers: Record<string, string>, op: S3Request['op'], access: OpAccess][] = [
  ['GET', '/', {}, 'ListBuckets', 'list'],
  ['PUT', '/b', {}, 'CreateBucket', 'create'],
  ['HEAD', '/b', {}, 'HeadBucket', 'read'],
  ['DELETE', '/b', {}, 'DeleteBucket', 'owner'],
  ['GET', '/b?location', {}, 'GetBucketLocation', 'read'],
  ['GET', '/b', {}, 'ListObjects', 'read'],
  ['GET', '/b?list-type=2', {}, 'ListObjectsV2', 'read'],
  ['POST', '/b?delete', {}, 'DeleteObjects', 'write'],
  ['GET', '/b?policy', {}, 'GetBucketPolicy', 'read'],
  ['GET', '/b?cors', {}, 'GetBucketCors', 'read'],
  ['GET', '/b?uploads', {}, 'ListMultipartUploads', 'read'],
  ['GET', '/b?tagging', {}, 'GetBucketTagging', 'read'],
  ['PUT', '/b?tagging', {}, 'PutBucketTagging', 'owner'],
  ['DELETE', '/b?tagging', {}, 'DeleteBucketTagging', 'owner'],
  ['GET', '/b?acl', {}, 'GetBucketAcl', 'read'],
  ['PUT', '/b?acl', {}, 'PutBucketAcl', 'owner'],
  ['GET', '/b?versioning', {}, 'GetBucketVersioning', 'read'],
  ['GET', '/b/k', {}, 'GetObject', 'read'],
  ['HEAD', '/b/k', {}, 'HeadObject', 'read'],
  ['PUT', '/b/k', {}, 'PutObject', 'write'],
  ['DELETE', '/b/k', {}, 'DeleteObject', 'write'],
  ['PUT', '/b/k', { 'x-amz-copy-source': '/src/k' }, 'CopyObject', 'write'],
  ['POST', '/b/k?uploads', {}, 'CreateMultipartUpload', 'write'],
  ['PUT', '/b/k?uploadId=u&partNumber=1', {}, 'UploadPart', 'write'],
  ['PUT', '/b/k?uploadId=u&partNumber=1', { 'x-amz-copy-source': 'src/k' }, 'UploadPartCopy', 'write'],
  ['POST', '/b/k?uploadId=u', {}, 'CompleteMultipartUpload', 'write'],
  ['DELETE', '/b/k?uploadId=u', {}, 'AbortMultipartUpload', 'write'],
  ['GET', '/b/k?uploadId=u', {}, 'ListParts', 'read'],
  ['GET', '/b/k?tagging', {}, 'GetObjectTagging', 'read'],
  ['PUT', '/b/k?tagging', {}, 'PutObjectTagging', 'write'],
  ['DELETE', '/b/k?tagging', {}, 'DeleteObjectTagging', 'write'],
  ['GET', '/b/k?acl', {}, 'GetObjectAcl', 'read'],
  ['PUT', '/b/k?acl', {}, 'PutObjectAcl', 'owner'],
];

describe('operation → permission', () => {
  for (const [method, url, headers, op, access] of CASES) {
    it(`${method} ${url} is ${op}, needing ${access}`, () => {
      const r = parseS3Request(method, url, headers);
      assert.equal(r.op, op);
      assert.equal(OP_ACCESS[r.op], access);
    });
  }

  it('the table covers every operation, and the cases cover the table', () => {
    assert.deepEqual(new Set(CASES.map((c) => c[3])), new Set(Object.keys(OP_ACCESS)));
  });

  it('reads need read, writes need write', () => {
    for (const [op, access] of Object.entries(OP_ACCESS)) {
      if (/^(Get|Head|List)/.test(op)) assert.ok(access === 'read' || access === 'list', `${op} is a read`);
      if (/^(Put|Delete|Upload|Complete|Abort|Create|Copy)/.test(op)) assert.ok(['write', 'owner', 'create'].includes(access), `${op} is a write`);
    }
  });
});

describe('copy sources and sub-directory buckets', () => {
  it('reads the bucket of x-amz-copy-source in every form clients send', () => {
    assert.equal(copySourceBucket('/src/a/b.txt'), 'src');
    assert.equal(copySourceBucket('src/a%20b?versionId=1'), 'src');
    assert.equal(copySourceBucket('my%2Dbucket/k'), 'my-bucket');
    assert.equal(copySourceBucket(['src/k']), 'src');
    assert.equal(copySourceBucket(undefined), undefined);
    assert.equal(copySourceBucket('/'), undefined);
  });

  it('a:b is governed by a', () => {
    assert.equal(governingBucket('a:b:c'), 'a');
    assert.equal(governingBucket('plain'), 'plain');
  });
});

class Grants implements PermissionSource {
  ready = true;
  readonly buckets = new Map<string, BucketGrantsView>();
  readonly created: [string, string][] = [];
  failCreate = false;
  set(bucket: string, owner: string, grants: Record<string, 'read' | 'write'> = {}, anonymousRead = false): void {
    this.buckets.set(bucket, { owner, grants: new Map(Object.entries(grants)), anonymousRead });
  }
  get(bucket: string): BucketGrantsView | undefined {
    return this.buckets.get(bucket);
  }
  async bucketCreated(bucket: string, owner: string): Promise<void> {
    if (this.failCreate) throw new Error('coordinator down');
    this.created.push([bucket, owner]);
  }
  async bucketDeleted(): Promise<void> {}
}

const alice: Identity = { user: 'alice', method: 'oidc' };
const bob: Identity = { user: 'bob', method: 'sigv4' };
const root: Identity = { user: 'root', method: 'oidc' };
const anon: Identity = { user: '', method: 'anonymous' };

function req(method: string, url: string, headers: Record<string, string> = {}) {
  return { s3: parseS3Request(method, url, headers), headers };
}

function allowed(a: Authorizer, who: Identity, method: string, url: string, headers: Record<string, string> = {}): boolean {
  const r = req(method, url, headers);
  try {
    a.authorize(who, r.s3, r.headers);
    return true;
  } catch (err) {
    assert.ok(err instanceof S3Error);
    assert.equal(err.code, 'AccessDenied');
    assert.equal(err.status, 403);
    return false;
  }
}

describe('Authorizer', () => {
  const setup = (mode: AuthMode = 'OIDC') => {
    const g = new Grants();
    g.set('data', 'alice', { reader: 'read', writer: 'write' });
    g.set('public', 'alice', {}, true);
    g.set('mounted', '', { bob: 'read' });
    return { g, a: new Authorizer(mode, ['root', ' '], g) };
  };

  it('the owner may do everything on their bucket', () => {
    const { a } = setup();
    for (const [m, u] of [['GET', '/data/k'], ['PUT', '/data/k'], ['DELETE', '/data'], ['PUT', '/data?tagging'], ['PUT', '/data?acl'], ['PUT', '/data/k?acl']]) {
      assert.ok(allowed(a, alice, m, u), `${m} ${u}`);
    }
  });

  it('a read grant reads only; a write grant reads and writes but does not own', () => {
    const { a } = setup();
    const reader: Identity = { user: 'reader', method: 'oidc' };
    const writer: Identity = { user: 'writer', method: 'oidc' };
    assert.ok(allowed(a, reader, 'GET', '/data/k'));
    assert.ok(allowed(a, reader, 'GET', '/data?list-type=2'));
    assert.ok(!allowed(a, reader, 'PUT', '/data/k'));
    assert.ok(!allowed(a, reader, 'DELETE', '/data/k'));
    assert.ok(!allowed(a, reader, 'POST', '/data/k?uploads'));
    assert.ok(allowed(a, writer, 'PUT', '/data/k'));
    assert.ok(allowed(a, writer, 'GET', '/data/k'));
    assert.ok(allowed(a, writer, 'POST', '/data?delete'));
    assert.ok(!allowed(a, writer, 'DELETE', '/data'));
    assert.ok(!allowed(a, writer, 'PUT', '/data?tagging'));
    assert.ok(!allowed(a, writer, 'PUT', '/data?acl'));
  });

  it('others and anonymous callers are denied; anonymous may read where anonymous read is on', () => {
    const { a } = setup();
    assert.ok(!allowed(a, bob, 'GET', '/data/k'));
    assert.ok(!allowed(a, bob, 'HEAD', '/data'));
    assert.ok(!allowed(a, anon, 'GET', '/data/k'));
    assert.ok(allowed(a, anon, 'GET', '/public/k'));
    assert.ok(allowed(a, anon, 'GET', '/public'));
    assert.ok(!allowed(a, anon, 'PUT', '/public/k'));
    assert.ok(!allowed(a, anon, 'PUT', '/new-bucket'));
    assert.ok(!allowed(a, bob, 'GET', '/unknown/k'));
  });

  it('an unowned bucket (a mount, a UFS directory) is governed by grants only', () => {
    const { a } = setup();
    assert.ok(allowed(a, bob, 'GET', '/mounted/k'));
    assert.ok(!allowed(a, bob, 'PUT', '/mounted/k'));
    assert.ok(!allowed(a, bob, 'DELETE', '/mounted'));
    assert.ok(!allowed(a, alice, 'GET', '/mounted/k'));
  });

  it('admins may do everything; the anonymous user is never an admin', () => {
    const { a } = setup();
    assert.ok(allowed(a, root, 'DELETE', '/data'));
    assert.ok(allowed(a, root, 'PUT', '/mounted/k'));
    assert.ok(allowed(a, root, 'GET', '/unknown/k'));
    assert.ok(!allowed(a, { user: 'root', method: 'anonymous' }, 'GET', '/data/k'));
    assert.ok(!allowed(a, { user: '', method: 'oidc' }, 'GET', '/data/k'), 'the blank admin entry names nobody');
  });

  it('any authenticated user may create a bucket; a sub-directory bucket needs write on its parent', () => {
    const { a } = setup();
    assert.ok(allowed(a, bob, 'PUT', '/new-bucket'));
    assert.ok(!allowed(a, bob, 'PUT', '/data:sub'));
    assert.ok(allowed(a, { user: 'writer', method: 'oidc' }, 'PUT', '/data:sub'));
    assert.ok(allowed(a, alice, 'GET', '/data:sub/k'), 'the parent\'s owner reads a:b');
  });

  it('a copy needs write on the target and read on the source', () => {
    const { a, g } = setup();
    g.set('mine', 'bob');
    assert.ok(!allowed(a, bob, 'PUT', '/mine/k', { 'x-amz-copy-source': '/data/k' }));
    g.set('data', 'alice', { bob: 'read' });
    assert.ok(allowed(a, bob, 'PUT', '/mine/k', { 'x-amz-copy-source': '/data/k' }));
    assert.ok(allowed(a, bob, 'PUT', '/mine/k?uploadId=u&partNumber=1', { 'x-amz-copy-source': 'data/k' }));
    assert.ok(!allowed(a, bob, 'PUT', '/data/k', { 'x-amz-copy-source': '/mine/k' }), 'read on the target is not write');
  });

  it('ListBuckets is allowed and filtered by read', () => {
    const { a } = setup();
    assert.ok(allowed(a, bob, 'GET', '/'));
    assert.deepEqual(['data', 'public', 'mounted', 'unknown'].filter((b) => a.mayRead(bob, b)), ['mounted']);
    assert.deepEqual(['data', 'public', 'mounted', 'unknown'].filter((b) => a.mayRead(anon, b)), ['public']);
    assert.deepEqual(['data', 'public', 'mounted'].filter((b) => a.mayRead(alice, b)), ['data', 'public']);
  });

  it('SIMPLE mode checks nothing and lists everything', () => {
    const { a } = setup('SIMPLE');
    assert.ok(allowed(a, { user: 'x', method: 'simple' }, 'DELETE', '/data'));
    assert.ok(allowed(a, anon, 'PUT', '/data/k'));
    assert.ok(a.mayRead(anon, 'data'));
  });

  it('SIGV4 mode enforces the same rules', () => {
    const { a } = setup('SIGV4');
    assert.ok(!allowed(a, bob, 'GET', '/data/k'));
    assert.ok(allowed(a, { user: 'reader', method: 'sigv4' }, 'GET', '/data/k'));
  });

  it('before the grants arrive a verifying worker answers ServiceUnavailable', () => {
    const { a, g } = setup();
    g.ready = false;
    const r = req('GET', '/data/k');
    assert.throws(() => a.authorize(alice, r.s3, r.headers), (err: S3Error) => err.code === 'ServiceUnavailable');
  });

  it('records the creator as owner; a failure to record fails the create only where it is enforced', async () => {
    const { a, g } = setup();
    await a.bucketCreated(alice, 'fresh', quiet);
    await a.bucketCreated(alice, 'fresh:sub', quiet);
    await a.bucketCreated(anon, 'anon', quiet);
    assert.deepEqual(g.created, [['fresh', 'alice']]);
    g.failCreate = true;
    await assert.rejects(a.bucketCreated(alice, 'other', quiet));
    const simple = new Authorizer('SIMPLE', [], g);
    await simple.bucketCreated({ user: 'x', method: 'simple' }, 'other', quiet);
  });
});
