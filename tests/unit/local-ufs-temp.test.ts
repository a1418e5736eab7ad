import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { mkdtempSync, promises as fs, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalUnderFileSystem } from '../../common/ufs/local.js';

describe('local UFS temp files', () => {
  it('a write sweeps temp files abandoned by crashed writers, and keeps fresh ones', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'alluxio-tmp-sweep-'));
    const tmpDir = path.join(root, '.alluxio-tmp');
    await fs.mkdir(tmpDir);
    const stale = path.join(tmpDir, 'stale-upload');
    const fresh = path.join(tmpDir, 'live-upload');
    await fs.writeFile(stale, 'half an object');
    await fs.writeFile(fresh, 'still being written');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(stale, twoHoursAgo, twoHoursAgo);
    const ufs = new LocalUnderFileSystem(root, { options: {}, stagingDir: path.join(root, 'staging') });
    await ufs.write('b/k', Readable.from([Buffer.from('x')]), { beforeCommit: () => ({ md5Hex: '9dd4e461268c8034f5c8564e155c67a6' }) });
    for (let i = 0; i < 50 && existsSync(stale); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(existsSync(stale), false, 'an hour-idle temp file is removed');
    assert.equal(existsSync(fresh), true, 'a temp file in use is kept');
    await fs.rm(root, { recursive: true, force: true });
  });
});
