"""The compat scenario (tests/compat/scenario.ts) with boto3, default configuration.

Run by tests/compat/boto3.test.ts once per run (owner / non-owner endpoint). Reads the run's plan
as JSON from the SCENARIO_PLAN environment variable:
  endpoint, bucket, keys{small,big,copy,bigCopy,plain,stream}, bigFile, bigMd5, bigSize,
  small{body (latin-1 string), contentType, metadata, cacheControl, contentDisposition,
  contentEncoding, contentLanguage, expires, newMetadata, newContentType, tags}, ufsRoot, tmp.
Runs every step in order, each even when an earlier one failed, and prints one line per step:
  STEP {"step": <id>, "ok": true|false, "error": "...", "ms": N}
and exits 0 (the test file judges the steps).
"""
import datetime
import email.utils
import hashlib
import json
import os
import sys
import time
import traceback

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

PLAN = json.loads(os.environ['SCENARIO_PLAN'])
MiB = 1024 * 1024
# s3transfer's defaults, spelled out: 8 MiB threshold and parts.
TRANSFER = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)

s3 = boto3.client(
    's3',
    endpoint_url=PLAN['endpoint'],
    aws_access_key_id='test',
    aws_secret_access_key='test',
    region_name='us-east-1',
)
B = PLAN['bucket']
K = PLAN['keys']
SM = PLAN['small']
SMALL_BODY = SM['body'].encode('latin-1')


def md5_hex(b):
    return hashlib.md5(b).hexdigest()


def md5_file(path):
    h = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(MiB), b''):
            h.update(chunk)
    return h.hexdigest()


def multipart_etag(path, part):
    digests = []
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(part), b''):
            digests.append(hashlib.md5(chunk).digest())
    return '"%s-%d"' % (hashlib.md5(b''.join(digests)).hexdigest(), len(digests))


def slice_of(path, start, length):
    with open(path, 'rb') as f:
        f.seek(start)
        return f.read(length)


def eq(got, want, what):
    if got != want:
        raise AssertionError(f'{what}: got {got!r}, expected {want!r}')


def ok(cond, what):
    if not cond:
        raise AssertionError(what)


def err_text(e):
    if isinstance(e, ClientError):
        r = e.response
        return f"{r['ResponseMetadata'].get('HTTPStatusCode')} {r.get('Error', {}).get('Code')}: {r.get('Error', {}).get('Message')} ({e})"
    return f'{type(e).__name__}: {e}'


def list_keys(**kwargs):
    keys, prefixes = [], []
    for page in s3.get_paginator('list_objects_v2').paginate(Bucket=B, **kwargs):
        keys += [o['Key'] for o in page.get('Contents', [])]
        prefixes += [p['Prefix'] for p in page.get('CommonPrefixes', [])]
    return keys, prefixes


def without_folder_objects(keys, put):
    ancestors = set()
    for k in put:
        parts = k.split('/')[:-1]
        for i in range(len(parts)):
            ancestors.add('/'.join(parts[: i + 1]) + '/')
    return [k for k in keys if not (k.endswith('/') and k in ancestors)]


STEPS = []
INFO = []


def step(fn):
    STEPS.append(fn)
    return fn


@step
def mb():
    res = s3.create_bucket(Bucket=B)
    eq(res['ResponseMetadata']['HTTPStatusCode'], 200, 'CreateBucket status')
    eq(s3.head_bucket(Bucket=B)['ResponseMetadata']['HTTPStatusCode'], 200, 'HeadBucket status')


@step
def putSmall():
    res = s3.put_object(
        Bucket=B, Key=K['small'], Body=SMALL_BODY, ContentType=SM['contentType'], Metadata=SM['metadata'],
        CacheControl=SM['cacheControl'], ContentDisposition=SM['contentDisposition'], ContentEncoding=SM['contentEncoding'],
        ContentLanguage=SM['contentLanguage'], Expires=email.utils.parsedate_to_datetime(SM['expires']))
    eq(res['ETag'], f'"{md5_hex(SMALL_BODY)}"', 'PutObject ETag')


@step
def putBig():
    s3.upload_file(PLAN['bigFile'], B, K['big'], Config=TRANSFER)
    head = s3.head_object(Bucket=B, Key=K['big'])
    eq(head['ContentLength'], PLAN['bigSize'], 'HeadObject ContentLength')
    eq(head['ETag'], multipart_etag(PLAN['bigFile'], 8 * MiB), 'multipart ETag (8 MiB parts)')


@step
def listRecursive():
    keys, _ = list_keys()
    put = [K['small'], K['big']]
    eq(sorted(without_folder_objects(keys, put)), sorted(put), f'list_objects_v2 (recursive) listed {keys}')
    for api in ('list_objects',):
        res = getattr(s3, api)(Bucket=B)
        got = [o['Key'] for o in res.get('Contents', [])]
        eq(sorted(without_folder_objects(got, put)), sorted(put), f'{api} (recursive) listed {got}')


@step
def listDelimiter():
    for api in ('list_objects_v2', 'list_objects'):
        res = getattr(s3, api)(Bucket=B, Delimiter='/')
        contents = sorted(o['Key'] for o in res.get('Contents', []))
        prefixes = sorted(p['Prefix'] for p in res.get('CommonPrefixes', []))
        eq((contents, prefixes), ([K['small']], [K['big'].split('/')[0] + '/']), f'{api} Delimiter=/ (contents, prefixes)')


@step
def headSmall():
    head = s3.head_object(Bucket=B, Key=K['small'])
    got = {'ContentType': head.get('ContentType'), 'Metadata': head.get('Metadata'), 'ContentLength': head.get('ContentLength'), 'ETag': head.get('ETag')}
    eq(got, {'ContentType': SM['contentType'], 'Metadata': SM['metadata'], 'ContentLength': len(SMALL_BODY), 'ETag': f'"{md5_hex(SMALL_BODY)}"'}, 'HeadObject')


@step
def storedHeaders():
    want = {'CacheControl': SM['cacheControl'], 'ContentDisposition': SM['contentDisposition'], 'ContentEncoding': SM['contentEncoding'],
            'ContentLanguage': SM['contentLanguage'], 'Expires': SM['expires']}

    def got(r):
        exp = r.get('ExpiresString')
        if exp is None and r.get('Expires') is not None:
            exp = email.utils.format_datetime(r['Expires'].astimezone(datetime.timezone.utc), usegmt=True)
        return {'CacheControl': r.get('CacheControl'), 'ContentDisposition': r.get('ContentDisposition'), 'ContentEncoding': r.get('ContentEncoding'),
                'ContentLanguage': r.get('ContentLanguage'), 'Expires': exp}
    eq(got(s3.head_object(Bucket=B, Key=K['small'])), want, 'HeadObject')
    g = s3.get_object(Bucket=B, Key=K['small'])
    g['Body'].read()
    eq(got(g), want, 'GetObject')


@step
def getSmall():
    g = s3.get_object(Bucket=B, Key=K['small'])
    eq(g['Body'].read(), SMALL_BODY, 'GetObject bytes')
    eq((g.get('ContentType'), g.get('Metadata')), (SM['contentType'], SM['metadata']), 'GetObject ContentType, Metadata')


@step
def getBig():
    dst = os.path.join(PLAN['tmp'], 'boto3-download.bin')
    try:
        s3.download_file(B, K['big'], dst, Config=TRANSFER)
        eq(os.path.getsize(dst), PLAN['bigSize'], 'download_file size')
        eq(md5_file(dst), PLAN['bigMd5'], 'download_file md5')
    finally:
        if os.path.exists(dst):
            os.remove(dst)
    g = s3.get_object(Bucket=B, Key=K['big'])
    h = hashlib.md5()
    for chunk in g['Body'].iter_chunks(MiB):
        h.update(chunk)
    eq(h.hexdigest(), PLAN['bigMd5'], 'get_object md5')
    eq(g['ETag'], multipart_etag(PLAN['bigFile'], 8 * MiB), 'GetObject ETag')


@step
def range_():
    r = s3.get_object(Bucket=B, Key=K['small'], Range='bytes=6-9')
    eq((r['ContentRange'], r['Body'].read()), (f'bytes 6-9/{len(SMALL_BODY)}', SMALL_BODY[6:10]), 'small range')
    start, n = 50 * MiB + 7, MiB + 3
    r = s3.get_object(Bucket=B, Key=K['big'], Range=f'bytes={start}-{start + n - 1}')
    eq(r['ContentRange'], f'bytes {start}-{start + n - 1}/{PLAN["bigSize"]}', 'big Content-Range')
    ok(r['Body'].read() == slice_of(PLAN['bigFile'], start, n), 'big ranged bytes differ')
    r = s3.get_object(Bucket=B, Key=K['big'], Range='bytes=-1000')
    ok(r['Body'].read() == slice_of(PLAN['bigFile'], PLAN['bigSize'] - 1000, 1000), 'suffix range bytes differ')


@step
def copy():
    res = s3.copy_object(Bucket=B, Key=K['copy'], CopySource={'Bucket': B, 'Key': K['small']})
    eq(res.get('CopyObjectResult', {}).get('ETag'), f'"{md5_hex(SMALL_BODY)}"', 'CopyObjectResult ETag')
    g = s3.get_object(Bucket=B, Key=K['copy'])
    eq(g['Body'].read(), SMALL_BODY, 'bytes of the copy')
    eq((g.get('ContentType'), g.get('Metadata')), (SM['contentType'], SM['metadata']), 'copy keeps ContentType, Metadata')


@step
def copyBig():
    # The managed copy: CreateMultipartUpload + UploadPartCopy (8 MiB ranges) + Complete.
    s3.copy({'Bucket': B, 'Key': K['big']}, B, K['bigCopy'], Config=TRANSFER)
    head = s3.head_object(Bucket=B, Key=K['bigCopy'])
    eq(head['ContentLength'], PLAN['bigSize'], 'size of the copy')
    ok(head['ETag'].endswith('-13"'), f'the copy has no 13-part multipart ETag: {head["ETag"]}')
    start, n = 8 * MiB - 5, 10
    r = s3.get_object(Bucket=B, Key=K['bigCopy'], Range=f'bytes={start}-{start + n - 1}')
    ok(r['Body'].read() == slice_of(PLAN['bigFile'], start, n), 'bytes across a part boundary of the copy differ')
    path = os.path.join(PLAN['ufsRoot'], B, *K['bigCopy'].split('/'))
    eq(md5_file(path), PLAN['bigMd5'], f'md5 of the copy in the UFS ({path})')


@step
def tagging():
    tagset = [{'Key': k, 'Value': v} for k, v in SM['tags'].items()]
    s3.put_object_tagging(Bucket=B, Key=K['small'], Tagging={'TagSet': tagset})
    got = s3.get_object_tagging(Bucket=B, Key=K['small'])['TagSet']
    eq(sorted(got, key=lambda t: t['Key']), sorted(tagset, key=lambda t: t['Key']), 'GetObjectTagging TagSet')


@step
def metadata():
    s3.copy_object(Bucket=B, Key=K['small'], CopySource={'Bucket': B, 'Key': K['small']}, MetadataDirective='REPLACE',
                   Metadata=SM['newMetadata'], ContentType=SM['newContentType'])
    head = s3.head_object(Bucket=B, Key=K['small'])
    eq((head.get('ContentType'), head.get('Metadata'), head.get('ETag')), (SM['newContentType'], SM['newMetadata'], f'"{md5_hex(SMALL_BODY)}"'), 'HeadObject after the REPLACE copy')


@step
def plainHttp():
    """boto3 over plain http: put_object with a file body and upload_fileobj of a non-seekable stream."""
    size = 3 * MiB + 12345
    data = os.urandom(size)
    src = os.path.join(PLAN['tmp'], 'boto3-plain.bin')
    with open(src, 'wb') as f:
        f.write(data)
    sent = []

    def capture(request, **_):
        h = request.headers
        sent.append({k: (h.get(k).decode() if isinstance(h.get(k), bytes) else h.get(k)) for k in (
            'Content-Length', 'Transfer-Encoding', 'Content-Encoding', 'X-Amz-Content-SHA256', 'X-Amz-Trailer',
            'X-Amz-Decoded-Content-Length', 'x-amz-checksum-crc32', 'Expect') if h.get(k) is not None})
    s3.meta.events.register('before-send.s3.*', capture)
    with open(src, 'rb') as f:
        res = s3.put_object(Bucket=B, Key=K['plain'], Body=f)
    INFO.append(f'put_object over http sent {sent[-1] if sent else "?"}')
    eq(res['ETag'], f'"{md5_hex(data)}"', 'put_object ETag')
    path = os.path.join(PLAN['ufsRoot'], B, *K['plain'].split('/'))
    with open(path, 'rb') as f:
        stored = f.read()
    eq(len(stored), size, f'size in the UFS ({path})')
    ok(stored == data, 'put_object bytes in the UFS differ')
    os.remove(src)

    class NonSeekable:
        def __init__(self, b):
            self.b, self.pos = b, 0

        def read(self, n=-1):
            if n is None or n < 0:
                n = len(self.b) - self.pos
            out = self.b[self.pos:self.pos + n]
            self.pos += len(out)
            return out

        def seekable(self):
            return False

    big = os.urandom(20 * MiB + 7)
    n = len(sent)
    s3.upload_fileobj(NonSeekable(big), B, K['stream'], Config=TRANSFER)
    s3.meta.events.unregister('before-send.s3.*', capture)
    INFO.append(f'upload_fileobj (non-seekable) sent {len(sent) - n} requests; an UploadPart: {next((x for x in sent[n:] if "x-amz-checksum-crc32" in x), sent[-1] if sent else "?")}')
    path = os.path.join(PLAN['ufsRoot'], B, *K['stream'].split('/'))
    with open(path, 'rb') as f:
        stored = f.read()
    eq(len(stored), len(big), f'size in the UFS ({path})')
    ok(stored == big, 'upload_fileobj (non-seekable, multipart) bytes in the UFS differ')


@step
def deleteMany():
    keys = [K['small'], K['big'], K['copy'], K['bigCopy'], K['plain'], K['stream']]
    res = s3.delete_objects(Bucket=B, Delete={'Objects': [{'Key': k} for k in keys]})
    eq(res.get('Errors', []), [], 'DeleteObjects Errors')
    eq(sorted(d['Key'] for d in res.get('Deleted', [])), sorted(keys), 'DeleteObjects Deleted')
    left, _ = list_keys()
    eq(left, [], 'keys left after DeleteObjects')


@step
def rb():
    res = s3.delete_bucket(Bucket=B)
    eq(res['ResponseMetadata']['HTTPStatusCode'], 204, 'DeleteBucket status')
    try:
        s3.head_bucket(Bucket=B)
        raise AssertionError('HeadBucket succeeds after DeleteBucket')
    except ClientError as e:
        eq(e.response['ResponseMetadata']['HTTPStatusCode'], 404, 'HeadBucket after DeleteBucket')


def main():
    for fn in STEPS:
        name = fn.__name__.rstrip('_')
        t0 = time.time()
        try:
            fn()
            out = {'step': name, 'ok': True}
        except Exception as e:  # noqa: BLE001
            out = {'step': name, 'ok': False, 'error': err_text(e), 'trace': traceback.format_exc()[-3000:]}
        out['ms'] = int((time.time() - t0) * 1000)
        if INFO:
            out['info'] = ' | '.join(INFO)
            INFO.clear()
        print('STEP ' + json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
