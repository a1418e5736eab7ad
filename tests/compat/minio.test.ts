/**
 * The compat scenario with minio-js (npm `minio`, a devDependency), default settings: no region
 * configured (so it asks GetBucketLocation), http, path-style (not an AWS host), against one
 * 3-worker cluster, through the keys' owner and through a non-owner. The 100 MiB object goes up
 * with fPutObject: multipart in 64 MiB parts, after a ListMultipartUploads lookup for an upload
 * to resume (S3-CLIENTS M5). minio-js passes only Content-Type, Cache-Control, Content-Encoding,
 * Content-Disposition and Content-Language through as headers (anything else becomes
 * x-amz-meta-*), so it cannot set Expires.
 */
import { describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import * as Minio from 'minio';
import { REPO_ROOT } from '../helpers/cluster.js';
import {
  BIG_SIZE, DEFAULT_KEYS, MiB, MODES, SMALL, STEP, md5File, md5Hex, multipartEtag, readSlice, useHarness, withoutFolderObjects, within,
  type Plan,
} from './scenario.js';

const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', 'minio', 'package.json'), 'utf8')) as { version: string }).version;
const PART = 64 * MiB; // minio-js's default part size
const CALL_MS = 180_000;

async function drain(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function collect<T>(s: NodeJS.ReadableStream): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    s.on('data', (x: T) => out.push(x));
    s.on('error', reject);
    s.on('end', () => resolve(out));
  });
}

interface Item { name?: string; prefix?: string; size?: number }

describe('minio-js scenario', () => {
  const h = useHarness('minio');

  h.step('', STEP.installed, async () => {
    assert.ok(VERSION, 'minio-js is not installed (npm ci installs the devDependency "minio")');
    h.version = `minio-js ${VERSION}`;
  });

  for (const mode of MODES) {
    describe(`${mode} endpoint`, () => {
      let p: Plan;
      let mc: Minio.Client;
      let work: string;
      before(async () => {
        p = h.plan(mode);
        work = await h.dir(`minio-${mode}`);
        mc = new Minio.Client({ endPoint: p.host, port: p.port, useSSL: false, accessKey: 'test', secretKey: 'test' });
        console.log(p.describe());
      });
      const call = <T>(what: string, f: () => Promise<T>): Promise<T> => within(CALL_MS, what, f());

      h.step(mode, `${STEP.mb} (makeBucket)`, async () => {
        await call('makeBucket', () => mc.makeBucket(p.bucket));
        assert.equal(await call('bucketExists', () => mc.bucketExists(p.bucket)), true);
      });

      h.step(mode, `${STEP.putSmall} (putObject with metaData)`, async () => {
        const res = await call('putObject', () => mc.putObject(p.bucket, p.keys.small, SMALL.body, SMALL.body.length, {
          'Content-Type': SMALL.contentType, 'Cache-Control': SMALL.cacheControl, 'Content-Disposition': SMALL.contentDisposition,
          'Content-Encoding': SMALL.contentEncoding, 'Content-Language': SMALL.contentLanguage, ...SMALL.metadata,
        }));
        assert.equal(res.etag, md5Hex(SMALL.body));
      });

      h.step(mode, `${STEP.putBig} (fPutObject: ListMultipartUploads, then 64 MiB multipart)`, async () => {
        await call('fPutObject', () => mc.fPutObject(p.bucket, p.keys.big, h.bigFile, {}));
        const st = await call('statObject', () => mc.statObject(p.bucket, p.keys.big));
        assert.equal(st.size, BIG_SIZE);
        assert.equal(`"${st.etag}"`, await multipartEtag(h.bigFile, PART), 'multipart ETag of 64 MiB parts');
      });

      h.step(mode, `${STEP.listRecursive} (listObjects and listObjectsV2, recursive)`, async () => {
        const put = [p.keys.small, p.keys.big];
        for (const [api, s] of [['listObjects', () => mc.listObjects(p.bucket, '', true)], ['listObjectsV2', () => mc.listObjectsV2(p.bucket, '', true)]] as const) {
          const items = await call(api, () => collect<Item>(s()));
          const keys = items.map((i) => i.name!).filter(Boolean);
          assert.deepEqual(withoutFolderObjects(keys, put).sort(), [...put].sort(), `${api}: ${JSON.stringify(items)}`);
          assert.equal(items.find((i) => i.name === p.keys.big)?.size, BIG_SIZE, api);
        }
      });

      h.step(mode, `${STEP.listDelimiter} (listObjects and listObjectsV2, not recursive)`, async () => {
        for (const [api, s] of [['listObjects', () => mc.listObjects(p.bucket, '', false)], ['listObjectsV2', () => mc.listObjectsV2(p.bucket, '', false)]] as const) {
          const items = await call(api, () => collect<Item>(s()));
          assert.deepEqual({ names: items.filter((i) => i.name).map((i) => i.name).sort(), prefixes: items.filter((i) => i.prefix).map((i) => i.prefix).sort() },
            { names: [p.keys.small], prefixes: [`${p.keys.big.split('/')[0]}/`] }, api);
        }
      });

      h.step(mode, `${STEP.headSmall} (statObject)`, async () => {
        const st = await call('statObject', () => mc.statObject(p.bucket, p.keys.small));
        assert.equal(st.size, SMALL.body.length);
        assert.equal(st.etag, md5Hex(SMALL.body));
        const md = st.metaData as Record<string, string>;
        assert.deepEqual({ contentType: md['content-type'], color: md.color, owner: md['owner-name'] }, { contentType: SMALL.contentType, color: SMALL.metadata.color, owner: SMALL.metadata['owner-name'] }, JSON.stringify(md));
      });

      h.step(mode, `${STEP.storedHeaders.replace('/Expires', '')} (statObject; minio-js cannot send Expires)`, async () => {
        const md = (await call('statObject', () => mc.statObject(p.bucket, p.keys.small))).metaData as Record<string, string>;
        assert.deepEqual({ cc: md['cache-control'], cd: md['content-disposition'], ce: md['content-encoding'], cl: md['content-language'] },
          { cc: SMALL.cacheControl, cd: SMALL.contentDisposition, ce: SMALL.contentEncoding, cl: SMALL.contentLanguage }, JSON.stringify(md));
      });

      h.step(mode, `${STEP.getSmall} (getObject)`, async () => {
        const body = await call('getObject', async () => drain(await mc.getObject(p.bucket, p.keys.small)));
        assert.ok(body.equals(SMALL.body));
      });

      h.step(mode, `${STEP.getBig} (fGetObject)`, async () => {
        const out = path.join(work, 'big.out');
        try {
          await call('fGetObject', () => mc.fGetObject(p.bucket, p.keys.big, out));
          assert.equal((await fs.stat(out)).size, BIG_SIZE);
          assert.equal(await md5File(out), h.bigMd5);
        } finally {
          await fs.rm(out, { force: true });
        }
      });

      h.step(mode, `${STEP.range} (getPartialObject)`, async () => {
        const start = 50 * MiB + 7;
        const len = MiB + 3;
        const got = await call('getPartialObject', async () => drain(await mc.getPartialObject(p.bucket, p.keys.big, start, len)));
        assert.ok(got.equals(await readSlice(h.bigFile, start, len)), `ranged bytes differ (got ${got.length})`);
        const small = await call('getPartialObject', async () => drain(await mc.getPartialObject(p.bucket, p.keys.small, 6, 4)));
        assert.equal(small.toString(), SMALL.body.subarray(6, 10).toString());
      });

      h.step(mode, `${STEP.copy} (copyObject)`, async () => {
        const res = await call('copyObject', () => mc.copyObject(new Minio.CopySourceOptions({ Bucket: p.bucket, Object: p.keys.small }), new Minio.CopyDestinationOptions({ Bucket: p.bucket, Object: p.keys.copy })));
        assert.ok(res, 'copyObject returned nothing');
        const st = await call('statObject', () => mc.statObject(p.bucket, p.keys.copy));
        assert.equal(st.etag, md5Hex(SMALL.body));
        const md = st.metaData as Record<string, string>;
        assert.deepEqual({ contentType: md['content-type'], color: md.color }, { contentType: SMALL.contentType, color: SMALL.metadata.color });
      });

      h.step(mode, `${STEP.tagging} (setObjectTagging, getObjectTagging)`, async () => {
        await call('setObjectTagging', () => mc.setObjectTagging(p.bucket, p.keys.small, SMALL.tags));
        const got = await call('getObjectTagging', () => mc.getObjectTagging(p.bucket, p.keys.small)) as unknown as { Key: string; Value: string }[];
        assert.deepEqual(got.map((t) => `${t.Key}=${t.Value}`).sort(), Object.entries(SMALL.tags).map(([k, v]) => `${k}=${v}`).sort(), JSON.stringify(got));
      });

      h.step(mode, `${STEP.metadata} (copyObject MetadataDirective REPLACE; statObject)`, async () => {
        await call('copyObject', () => mc.copyObject(
          new Minio.CopySourceOptions({ Bucket: p.bucket, Object: p.keys.small }),
          new Minio.CopyDestinationOptions({ Bucket: p.bucket, Object: p.keys.small, MetadataDirective: 'REPLACE', UserMetadata: SMALL.newMetadata, Headers: { 'Content-Type': SMALL.newContentType } })));
        const st = await call('statObject', () => mc.statObject(p.bucket, p.keys.small));
        const md = st.metaData as Record<string, string>;
        assert.deepEqual({ contentType: md['content-type'], color: md.color, stage: md.stage, owner: md['owner-name'] }, { contentType: SMALL.newContentType, color: SMALL.newMetadata.color, stage: SMALL.newMetadata.stage, owner: undefined }, JSON.stringify(md));
      });

      h.step(mode, `${STEP.deleteMany} (removeObjects)`, async () => {
        const res = await call('removeObjects', () => mc.removeObjects(p.bucket, [p.keys.small, p.keys.big, p.keys.copy])) as unknown as { Code?: string }[];
        assert.deepEqual(res.filter((r) => r.Code), [], 'removeObjects errors');
        const left = await call('listObjects', () => collect<Item>(mc.listObjects(p.bucket, '', true)));
        assert.deepEqual(left, [], 'objects left after removeObjects');
      });

      h.step(mode, `${STEP.rb} (removeBucket)`, async () => {
        await call('removeBucket', () => mc.removeBucket(p.bucket));
        assert.equal(await call('bucketExists', () => mc.bucketExists(p.bucket)), false);
      });
    });
  }
});
