"""boto3 against a running cluster, with boto3's default configuration.

boto3 1.43 by default sends `x-amz-checksum-crc32` and `Expect: 100-continue` on every PUT/POST
with a body and `encoding-type=url` on both list APIs (S3-CLIENTS P6, L2), so every flow below
also exercises those.

Environment:
  ENDPOINT          the S3 endpoint (one worker), e.g. http://127.0.0.1:PORT
  WORKER_ENDPOINTS  comma-separated S3 endpoints of every worker
  BUCKET_PREFIX     optional: prefix of the bucket names this run creates
  UFS_ROOT          optional: the local root UFS directory (bucket b is <UFS_ROOT>/b)

Exits 0 when every check passes; otherwise prints each failure and exits 1.
"""
import datetime
import hashlib
import os
import sys
import tempfile
import unittest
import uuid

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get('ENDPOINT', '')
WORKER_ENDPOINTS = [e for e in os.environ.get('WORKER_ENDPOINTS', '').split(',') if e]
BUCKET_PREFIX = os.environ.get('BUCKET_PREFIX', 'boto3')
UFS_ROOT = os.environ.get('UFS_ROOT', '')

MB = 1024 * 1024


def client(endpoint=None):
    return boto3.client(
        's3',
        endpoint_url=endpoint or ENDPOINT,
        aws_access_key_id='test',
        aws_secret_access_key='test',
        region_name='us-east-1',
    )


def unique_bucket(tag):
    return f'{BUCKET_PREFIX}-{tag}-{uuid.uuid4().hex[:8]}'


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def error_of(call, *args, **kwargs):
    """Runs a call that must fail; returns (code, http status, the error)."""
    try:
        res = call(*args, **kwargs)
    except ClientError as err:
        return err.response.get('Error', {}).get('Code'), err.response['ResponseMetadata']['HTTPStatusCode'], err
    raise AssertionError(f'{call.__name__}{kwargs} succeeded but should have failed; got {res!r}')


def ancestors(key):
    """'a/b/c' -> ['a/', 'a/b/'] (the folder objects a recursive listing shows)."""
    parts = key.split('/')[:-1]
    return ['/'.join(parts[: i + 1]) + '/' for i in range(len(parts))]


def expected_recursive(keys, prefix=''):
    out = set()
    for k in keys:
        out.add(k)
        out.update(a for a in ancestors(k) if a.startswith(prefix))
    return sorted(x for x in out if x.startswith(prefix))


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode('utf-8'))


class Boto3Flows(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not ENDPOINT:
            raise RuntimeError('ENDPOINT is not set')
        if not WORKER_ENDPOINTS:
            raise RuntimeError('WORKER_ENDPOINTS is not set')
        cls.s3 = client()
        cls.bucket = unique_bucket('main')
        res = cls.s3.create_bucket(Bucket=cls.bucket)
        status = res['ResponseMetadata']['HTTPStatusCode']
        if status != 200:
            raise AssertionError(f'create_bucket({cls.bucket}) answered {status}, expected 200')

    @classmethod
    def tearDownClass(cls):
        # Best effort: leave nothing behind (the cluster goes away after the suite anyway).
        try:
            for page in cls.s3.get_paginator('list_objects_v2').paginate(Bucket=cls.bucket):
                keys = [o['Key'] for o in page.get('Contents', [])]
                for i in range(0, len(keys), 1000):
                    cls.s3.delete_objects(Bucket=cls.bucket, Delete={'Objects': [{'Key': k} for k in keys[i:i + 1000]], 'Quiet': True})
            cls.s3.delete_bucket(Bucket=cls.bucket)
        except Exception as err:  # noqa: BLE001
            print(f'cleanup of {cls.bucket} failed: {err}', file=sys.stderr)

    # ---- helpers ----

    def put(self, key, body=b'x', **kwargs):
        res = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **kwargs)
        self.assertEqual(res['ResponseMetadata']['HTTPStatusCode'], 200, f'put_object {key!r}')
        return res

    def list_all(self, api, **kwargs):
        """Every entry of a paginated listing, in order, with the size of each page."""
        keys, prefixes, page_sizes = [], [], []
        for page in self.s3.get_paginator(api).paginate(Bucket=self.bucket, **kwargs):
            c = [o['Key'] for o in page.get('Contents', [])]
            p = [x['Prefix'] for x in page.get('CommonPrefixes', [])]
            keys += c
            prefixes += p
            page_sizes.append(len(c) + len(p))
        return keys, prefixes, page_sizes

    # ---- buckets ----

    def test_create_bucket_again_is_owned_by_you(self):
        code, status, err = error_of(self.s3.create_bucket, Bucket=self.bucket)
        self.assertEqual((code, status), ('BucketAlreadyOwnedByYou', 409), f'create_bucket on an existing bucket: {err}')

    def test_head_bucket(self):
        res = self.s3.head_bucket(Bucket=self.bucket)
        self.assertEqual(res['ResponseMetadata']['HTTPStatusCode'], 200)
        self.assertEqual(res.get('BucketRegion'), 'us-east-1', 'HeadBucket should carry x-amz-bucket-region (S3-CLIENTS A9)')
        code, status, err = error_of(self.s3.head_bucket, Bucket=unique_bucket('missing'))
        self.assertEqual(status, 404, f'head_bucket on a missing bucket: {err}')

    def test_bucket_lifecycle_not_empty_then_empty(self):
        b = unique_bucket('life')
        self.assertEqual(self.s3.create_bucket(Bucket=b)['ResponseMetadata']['HTTPStatusCode'], 200)
        self.s3.put_object(Bucket=b, Key='only-object', Body=b'data')
        code, status, err = error_of(self.s3.delete_bucket, Bucket=b)
        self.assertEqual((code, status), ('BucketNotEmpty', 409), f'delete_bucket on a non-empty bucket: {err}')
        # Still there, object intact.
        self.assertEqual(self.s3.get_object(Bucket=b, Key='only-object')['Body'].read(), b'data')
        self.s3.delete_object(Bucket=b, Key='only-object')
        res = self.s3.delete_bucket(Bucket=b)
        self.assertEqual(res['ResponseMetadata']['HTTPStatusCode'], 204, 'delete_bucket on an empty bucket')
        code, status, err = error_of(self.s3.head_bucket, Bucket=b)
        self.assertEqual(status, 404, f'head_bucket after delete_bucket: {err}')
        code, status, err = error_of(self.s3.list_objects_v2, Bucket=b)
        self.assertEqual((code, status), ('NoSuchBucket', 404), f'list_objects_v2 after delete_bucket: {err}')
        names = [x['Name'] for x in self.s3.list_buckets()['Buckets']]
        self.assertNotIn(b, names, 'list_buckets still shows a deleted bucket')
        if UFS_ROOT:
            self.assertFalse(os.path.exists(os.path.join(UFS_ROOT, b)), f'{UFS_ROOT}/{b} still exists after delete_bucket')

    def test_list_buckets_shows_bucket(self):
        names = [x['Name'] for x in self.s3.list_buckets()['Buckets']]
        self.assertIn(self.bucket, names)

    # ---- objects ----

    def test_put_head_get_round_trip(self):
        key = 'round/trip.bin'
        body = os.urandom(100_000)
        meta = {'color': 'blue', 'owner-name': 'alice'}
        before = datetime.datetime.now(datetime.timezone.utc)
        put = self.put(key, body, ContentType='application/x-test-data', Metadata=meta)
        etag = f'"{md5_hex(body)}"'
        self.assertEqual(put['ETag'], etag, 'PutObject ETag must be the quoted MD5 of the body')

        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        self.assertEqual(head['ETag'], etag, 'HeadObject ETag')
        self.assertEqual(head['ContentLength'], len(body), 'HeadObject ContentLength')
        self.assertEqual(head['ContentType'], 'application/x-test-data', 'HeadObject ContentType')
        self.assertEqual(head['Metadata'], meta, 'HeadObject Metadata')
        lm = head['LastModified']
        self.assertIsNotNone(lm.tzinfo, 'LastModified must carry a time zone')
        self.assertLess(abs((lm - before).total_seconds()), 300, f'LastModified {lm} is far from now {before}')
        self.assertEqual(head.get('AcceptRanges'), 'bytes', 'HeadObject Accept-Ranges')

        get = self.s3.get_object(Bucket=self.bucket, Key=key)
        data = get['Body'].read()
        self.assertEqual(len(data), len(body), 'GetObject body length')
        self.assertTrue(data == body, 'GetObject body differs from what was put')
        self.assertEqual(get['ETag'], etag, 'GetObject ETag')
        self.assertEqual(get['ContentLength'], len(body), 'GetObject ContentLength')
        self.assertEqual(get['ContentType'], 'application/x-test-data', 'GetObject ContentType')
        self.assertEqual(get['Metadata'], meta, 'GetObject Metadata')
        self.assertEqual(get['LastModified'], lm, 'GetObject and HeadObject disagree on LastModified')

        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=key)
        entry = [o for o in listed.get('Contents', []) if o['Key'] == key]
        self.assertEqual(len(entry), 1, f'list_objects_v2 Prefix={key!r} should list the object once: {listed.get("Contents")}')
        self.assertEqual(entry[0]['ETag'], etag, 'ListObjectsV2 ETag')
        self.assertEqual(entry[0]['Size'], len(body), 'ListObjectsV2 Size')
        # HEAD carries an HTTP date (whole seconds); the listing names the same second.
        self.assertEqual(entry[0]['LastModified'].replace(microsecond=0), lm, 'ListObjectsV2 LastModified differs from HeadObject')

    def test_overwrite_replaces_content_and_metadata(self):
        key = 'overwrite.txt'
        self.put(key, b'first version', Metadata={'v': '1'}, ContentType='text/plain')
        self.put(key, b'second', Metadata={'v': '2'})
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        self.assertEqual(head['ContentLength'], 6)
        self.assertEqual(head['Metadata'], {'v': '2'})
        self.assertEqual(head['ETag'], f'"{md5_hex(b"second")}"')
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key=key)['Body'].read(), b'second')

    def test_range_reads(self):
        key = 'ranges.bin'
        body = bytes(range(256)) * 40  # 10240 bytes
        self.put(key, body)
        n = len(body)
        cases = [
            ('bytes=10-19', 10, 19),
            ('bytes=0-0', 0, 0),
            (f'bytes={n - 100}-', n - 100, n - 1),
            ('bytes=-5', n - 5, n - 1),
            (f'bytes=9000-{n + 5000}', 9000, n - 1),  # an end past the size is clamped
        ]
        for rng, start, end in cases:
            with self.subTest(range=rng):
                res = self.s3.get_object(Bucket=self.bucket, Key=key, Range=rng)
                self.assertEqual(res['ResponseMetadata']['HTTPStatusCode'], 206, f'{rng}: status')
                self.assertEqual(res['ContentRange'], f'bytes {start}-{end}/{n}', f'{rng}: Content-Range')
                self.assertEqual(res['ContentLength'], end - start + 1, f'{rng}: Content-Length')
                self.assertTrue(res['Body'].read() == body[start:end + 1], f'{rng}: bytes differ')
                self.assertEqual(res['ETag'], f'"{md5_hex(body)}"', f'{rng}: a ranged GET carries the whole object ETag')

    def test_conditional_get(self):
        # s3transfer downloads with Range + If-Match (S3-CLIENTS G2).
        key = 'conditional.txt'
        etag = self.put(key, b'conditional body')['ETag']
        res = self.s3.get_object(Bucket=self.bucket, Key=key, IfMatch=etag, Range='bytes=0-10')
        self.assertEqual(res['ResponseMetadata']['HTTPStatusCode'], 206)
        self.assertEqual(res['Body'].read(), b'conditional')
        code, status, err = error_of(self.s3.get_object, Bucket=self.bucket, Key=key, IfMatch='"0123456789abcdef0123456789abcdef"')
        self.assertEqual((code, status), ('PreconditionFailed', 412), f'GET with a wrong If-Match: {err}')
        code, status, err = error_of(self.s3.get_object, Bucket=self.bucket, Key=key, IfNoneMatch=etag)
        self.assertEqual(status, 304, f'GET with a matching If-None-Match: {err}')

    def test_range_beyond_size_is_invalid_range(self):
        key = 'small-for-range.txt'
        self.put(key, b'0123456789')
        code, status, err = error_of(self.s3.get_object, Bucket=self.bucket, Key=key, Range='bytes=100-200')
        self.assertEqual((code, status), ('InvalidRange', 416), f'GET Range past the end: {err}')

    def test_missing_key_is_no_such_key(self):
        code, status, err = error_of(self.s3.get_object, Bucket=self.bucket, Key='no/such/key.txt')
        self.assertEqual((code, status), ('NoSuchKey', 404), f'get_object of a missing key: {err}')
        code, status, err = error_of(self.s3.head_object, Bucket=self.bucket, Key='no/such/key.txt')
        self.assertEqual(status, 404, f'head_object of a missing key: {err}')

    def test_missing_bucket_is_no_such_bucket(self):
        missing = unique_bucket('nobucket')
        code, status, err = error_of(self.s3.get_object, Bucket=missing, Key='k')
        self.assertEqual((code, status), ('NoSuchBucket', 404), f'get_object in a missing bucket: {err}')
        code, status, err = error_of(self.s3.list_objects_v2, Bucket=missing)
        self.assertEqual((code, status), ('NoSuchBucket', 404), f'list_objects_v2 of a missing bucket: {err}')
        code, status, err = error_of(self.s3.put_object, Bucket=missing, Key='k', Body=b'x')
        self.assertEqual((code, status), ('NoSuchBucket', 404), f'put_object into a missing bucket: {err}')

    def test_delete_object(self):
        key = 'to-delete.txt'
        self.put(key, b'bye')
        res = self.s3.delete_object(Bucket=self.bucket, Key=key)
        self.assertEqual(res['ResponseMetadata']['HTTPStatusCode'], 204, 'delete_object')
        code, status, err = error_of(self.s3.get_object, Bucket=self.bucket, Key=key)
        self.assertEqual((code, status), ('NoSuchKey', 404), f'get_object after delete_object: {err}')
        # Deleting a key that does not exist succeeds, as in S3.
        res = self.s3.delete_object(Bucket=self.bucket, Key=key)
        self.assertEqual(res['ResponseMetadata']['HTTPStatusCode'], 204, 'delete_object of a missing key')

    def test_delete_objects_verbose_and_quiet(self):
        keys = ['del/a.txt', 'del/b & c.txt', 'del/ünï cødé+%.txt', 'del/d.txt', 'del/e.txt']
        for k in keys:
            self.put(k, k.encode('utf-8'))
        # Verbose: every key, including one that never existed, is reported deleted.
        verbose = keys[:3] + ['del/never-existed']
        res = self.s3.delete_objects(Bucket=self.bucket, Delete={'Objects': [{'Key': k} for k in verbose]})
        self.assertEqual(res['ResponseMetadata']['HTTPStatusCode'], 200)
        self.assertEqual(res.get('Errors', []), [], 'delete_objects reported errors')
        self.assertEqual(sorted(d['Key'] for d in res.get('Deleted', [])), sorted(verbose), 'delete_objects Deleted list')
        # Quiet: only errors are listed.
        res = self.s3.delete_objects(Bucket=self.bucket, Delete={'Objects': [{'Key': k} for k in keys[3:]], 'Quiet': True})
        self.assertEqual(res['ResponseMetadata']['HTTPStatusCode'], 200)
        self.assertEqual(res.get('Deleted', []), [], 'a Quiet delete_objects must not list deleted keys')
        self.assertEqual(res.get('Errors', []), [], 'delete_objects (Quiet) reported errors')
        for k in keys:
            code, status, err = error_of(self.s3.head_object, Bucket=self.bucket, Key=k)
            self.assertEqual(status, 404, f'{k!r} still exists after delete_objects: {err}')

    # ---- listings ----

    def test_list_with_prefix_and_delimiter(self):
        for k in ['lst/a.txt', 'lst/b/1', 'lst/b/2', 'lst/c/x/y']:
            self.put(k)
        for api in ('list_objects', 'list_objects_v2'):
            with self.subTest(api=api):
                res = getattr(self.s3, api)(Bucket=self.bucket, Prefix='lst/', Delimiter='/')
                keys = [o['Key'] for o in res.get('Contents', [])]
                prefixes = [p['Prefix'] for p in res.get('CommonPrefixes', [])]
                # 'lst/' is itself a folder object (a directory), listed like the S3 console's folders.
                self.assertEqual(keys, ['lst/', 'lst/a.txt'], f'{api} Contents')
                self.assertEqual(prefixes, ['lst/b/', 'lst/c/'], f'{api} CommonPrefixes')
                self.assertEqual(res.get('Delimiter'), '/')
                self.assertEqual(res.get('Prefix'), 'lst/')
                self.assertFalse(res['IsTruncated'])
                res = getattr(self.s3, api)(Bucket=self.bucket, Prefix='lst/c/', Delimiter='/')
                self.assertEqual([p['Prefix'] for p in res.get('CommonPrefixes', [])], ['lst/c/x/'], f'{api} nested CommonPrefixes')
                res = getattr(self.s3, api)(Bucket=self.bucket, Delimiter='/')
                self.assertIn('lst/', [p['Prefix'] for p in res.get('CommonPrefixes', [])], f'{api} top-level CommonPrefixes')
                self.assertNotIn('lst/a.txt', [o['Key'] for o in res.get('Contents', [])], f'{api} top level lists a nested key')

    def test_sub_directory_is_a_folder_object_in_recursive_listing(self):
        self.put('tree/sub/leaf.txt', b'leaf')
        keys, _, _ = self.list_all('list_objects_v2', Prefix='tree/')
        self.assertEqual(keys, ['tree/', 'tree/sub/', 'tree/sub/leaf.txt'], 'recursive listing under tree/')
        res = self.s3.list_objects_v2(Bucket=self.bucket, Prefix='tree/sub/')
        folder = [o for o in res.get('Contents', []) if o['Key'] == 'tree/sub/']
        self.assertEqual(len(folder), 1, 'the folder object tree/sub/ is listed')
        self.assertEqual(folder[0]['Size'], 0, 'a folder object has size 0')
        if UFS_ROOT:
            # A directory made straight in the UFS shows up the same way.
            os.makedirs(os.path.join(UFS_ROOT, self.bucket, 'made-on-disk', 'inner'))
            keys, _, _ = self.list_all('list_objects_v2', Prefix='made-on-disk/')
            self.assertEqual(keys, ['made-on-disk/', 'made-on-disk/inner/'], 'directories created in the UFS are listed as folder objects')

    def test_paginated_listings_reach_every_key_once(self):
        names = [
            'plain', 'with space', 'plus+sign', 'percent%41literal', 'percent%', 'unicode-é-日本語',
            'amp&lt<gt>', 'tilde~star*', 'quote\'s', 'a=b;c', 'sub/inner one', 'sub/deep/x+y', 'sub/deep/z%20',
        ]
        keys = ['pg/' + n for n in names]
        for k in keys:
            self.put(k, k.encode('utf-8'))
        want = expected_recursive(keys, 'pg/')
        for api in ('list_objects', 'list_objects_v2'):
            with self.subTest(api=api, delimiter=None):
                got, prefixes, sizes = self.list_all(api, Prefix='pg/', PaginationConfig={'PageSize': 2})
                self.assertEqual(prefixes, [])
                self.assertTrue(all(s <= 2 for s in sizes), f'{api}: a page holds more than MaxKeys=2 entries: {sizes}')
                self.assertGreaterEqual(len(sizes), len(want) // 2, f'{api}: MaxKeys=2 was not honoured (pages {sizes})')
                dupes = sorted({k for k in got if got.count(k) > 1})
                self.assertEqual(dupes, [], f'{api}: keys listed more than once')
                self.assertEqual(sorted(got), want, f'{api}: the paginated listing does not reach every key exactly once')
                self.assertEqual(got, utf8_sorted(got), f'{api}: keys are not in UTF-8 binary order')
            with self.subTest(api=api, delimiter='/'):
                got, prefixes, sizes = self.list_all(api, Prefix='pg/', Delimiter='/', PaginationConfig={'PageSize': 2})
                self.assertTrue(all(s <= 2 for s in sizes), f'{api}: a page holds more than MaxKeys=2 entries: {sizes}')
                want_keys = sorted(['pg/'] + ['pg/' + n for n in names if '/' not in n])
                self.assertEqual(sorted(got), want_keys, f'{api} with Delimiter: Contents')
                self.assertEqual(prefixes, ['pg/sub/'], f'{api} with Delimiter: CommonPrefixes (each once)')
        # Each key with awkward characters reads back by the key it was listed under.
        for k in keys:
            with self.subTest(key=k):
                self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key=k)['Body'].read(), k.encode('utf-8'), f'GET {k!r}')
        # StartAfter with an encoded key (v2).
        res = self.s3.list_objects_v2(Bucket=self.bucket, Prefix='pg/', StartAfter='pg/plus+sign')
        self.assertEqual([o['Key'] for o in res.get('Contents', [])], [k for k in want if k.encode() > b'pg/plus+sign'], 'StartAfter')

    # ---- multipart, transfer manager, every worker ----

    def test_multipart_upload_download_and_every_worker(self):
        key = 'big/random-20mb.bin'
        size = 20 * MB
        part = 8 * MB
        data = os.urandom(size)
        cfg = TransferConfig(multipart_threshold=part, multipart_chunksize=part)
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, 'src.bin')
            dst = os.path.join(tmp, 'dst.bin')
            with open(src, 'wb') as f:
                f.write(data)
            self.s3.upload_file(src, self.bucket, key, Config=cfg)
            self.s3.download_file(self.bucket, key, dst, Config=cfg)
            with open(dst, 'rb') as f:
                back = f.read()
        self.assertEqual(len(back), size, 'download_file length')
        self.assertTrue(back == data, 'download_file bytes differ from the uploaded file')

        parts = [data[i:i + part] for i in range(0, size, part)]
        want_etag = '"%s-%d"' % (hashlib.md5(b''.join(hashlib.md5(p).digest() for p in parts)).hexdigest(), len(parts))
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        self.assertRegex(head['ETag'], r'^"[0-9a-f]{32}-3"$', 'a 3-part upload has a multipart ETag "<hex>-3"')
        self.assertEqual(head['ETag'], want_etag, 'multipart ETag = MD5 of the part MD5s, -N')
        self.assertEqual(head['ContentLength'], size)

        for ep in WORKER_ENDPOINTS:
            with self.subTest(worker=ep):
                c = client(ep)
                h = c.head_object(Bucket=self.bucket, Key=key)
                self.assertEqual(h['ResponseMetadata']['HTTPStatusCode'], 200, f'HEAD via {ep}')
                self.assertEqual(h['ContentLength'], size, f'HEAD via {ep}: ContentLength')
                self.assertEqual(h['ETag'], want_etag, f'HEAD via {ep}: ETag')
                g = c.get_object(Bucket=self.bucket, Key=key, Range=f'bytes={size - 1000}-{size + 10}')
                self.assertTrue(g['Body'].read() == data[size - 1000:], f'ranged GET via {ep}: bytes differ')
                self.assertEqual(g['ContentRange'], f'bytes {size - 1000}-{size - 1}/{size}', f'ranged GET via {ep}')

    def test_multipart_with_client_api(self):
        key = 'big/manual-mpu.bin'
        p1 = os.urandom(5 * MB)
        p2 = os.urandom(1234)
        mpu = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType='application/x-mpu', Metadata={'k': 'v'})
        uid = mpu['UploadId']
        e1 = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=uid, PartNumber=1, Body=p1)['ETag']
        e2 = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=uid, PartNumber=2, Body=p2)['ETag']
        self.assertEqual(e1, f'"{md5_hex(p1)}"', 'UploadPart ETag = quoted MD5 of the part')
        listed = self.s3.list_parts(Bucket=self.bucket, Key=key, UploadId=uid)
        self.assertEqual([p['PartNumber'] for p in listed.get('Parts', [])], [1, 2], 'ListParts')
        self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=uid, MultipartUpload={'Parts': [
            {'PartNumber': 1, 'ETag': e1}, {'PartNumber': 2, 'ETag': e2}]})
        got = self.s3.get_object(Bucket=self.bucket, Key=key)
        self.assertTrue(got['Body'].read() == p1 + p2, 'completed multipart object bytes')
        self.assertEqual(got['ContentType'], 'application/x-mpu')
        self.assertEqual(got['Metadata'], {'k': 'v'})
        self.assertRegex(got['ETag'], r'^"[0-9a-f]{32}-2"$')


if __name__ == '__main__':
    result = unittest.main(argv=[sys.argv[0], '-v'], exit=False).result
    sys.exit(0 if result.wasSuccessful() else 1)
