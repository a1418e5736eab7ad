/**
 * Persistence of the coordinator's state: one JSON document (cluster version, mount table,
 * known workers, bucket tags and permissions, the path-level write policies) in `<state dir>/state.json`, replaced atomically on every change so a crash
 * leaves either the old or the new document, never a torn one.
 */
import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../common/log.js';
import { validatePathConfig, type PathConfig } from '../common/path-config.js';
import type { MountInfo, WorkerInfo } from '../proto/index.js';

export const STATE_FORMAT = 1;

export interface StateDocument {
  format: typeof STATE_FORMAT;
  version: number;
  mounts: MountInfo[];
  workers: WorkerInfo[];
  /** Tag sets of buckets, by bucket name (absent in files written before bucket tagging). */
  bucketTags?: Record<string, Record<string, string>>;
  /** The path-level write policies and their own version (absent in files written before them). */
  pathConfig?: StoredPathConfig;
  /** Owners and grants of buckets, by bucket name (absent in files written before them). */
  bucketPermissions?: Record<string, StoredBucketPermissions>;
}

export interface StoredBucketPermissions {
  /** '' when the bucket has no owner (it exists as a mount or UFS directory): grants only. */
  owner: string;
  grants: Record<string, 'read' | 'write'>;
  anonymousRead: boolean;
}

export interface StoredPathConfig {
  /** Starts at 1 (the built-in default document); +1 on every change. */
  version: number;
  document: PathConfig;
}

export class CorruptStateError extends Error {
  override name = 'CorruptStateError';
}

const STATE_FILE = 'state.json';
const TEMP_PREFIX = '.state.json.';

export class StateStore {
  readonly file: string;
  // Saves run one after another in call order, so the last document written is the newest.
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(readonly dir: string, private readonly log: Logger) {
    this.file = path.join(dir, STATE_FILE);
  }

  /** The stored document, or null on a first start. A file that cannot be parsed is an error, never reset. */
  async load(): Promise<StateDocument | null> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.removeStaleTemps();
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return parseStateDocument(text);
    } catch (err) {
      throw new CorruptStateError(
        `coordinator state file ${this.file} is corrupt (${(err as Error).message}); ` +
          'restore it from a backup or move it away to start with an empty cluster state',
      );
    }
  }

  /** Writes `doc` atomically; resolves once it is durable. */
  save(doc: StateDocument): Promise<void> {
    // Serialise now: the caller may keep mutating its state while earlier saves are in flight.
    const text = JSON.stringify(doc, null, 2) + '\n';
    const run = this.chain.then(() => this.writeAtomically(text));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Waits for every save issued so far. */
  flush(): Promise<void> {
    return this.chain;
  }

  private async writeAtomically(text: string): Promise<void> {
    const tmp = path.join(this.dir, `${TEMP_PREFIX}${process.pid}.${++this.seq}.tmp`);
    try {
      // 0600: mount options hold UFS credentials in clear (workers need them).
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await this.syncDir();
  }

  // The rename is only durable once the directory entry is.
  private async syncDir(): Promise<void> {
    let dh;
    try {
      dh = await open(this.dir, 'r');
      await dh.sync();
    } catch (err) {
      // Some platforms and file systems refuse fsync on a directory; the rename still happened.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
    } finally {
      await dh?.close();
    }
  }

  // A crash between write and rename leaves a temp file; it never held the current state.
  private async removeStaleTemps(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      await unlink(path.join(this.dir, name)).catch(() => undefined);
      this.log.info({ file: name }, 'removed stale temporary state file');
    }
  }
}

// ---- validation of a loaded document: every field the coordinator relies on is checked ----

function fail(what: string): never {
  throw new Error(what);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : fail(`${where}.${key} is not a string`);
}

function num(o: Record<string, unknown>, key: string, where: string): number {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fail(`${where}.${key} is not a number`);
}

function parseMount(v: unknown, where: string): MountInfo {
  if (!isObject(v)) fail(`${where} is not an object`);
  const options = v.options ?? {};
  if (!isObject(options) || !Object.values(options).every((x) => typeof x === 'string')) {
    fail(`${where}.options is not a map of strings`);
  }
  if (typeof v.read_only !== 'boolean') fail(`${where}.read_only is not a boolean`);
  return { path: str(v, 'path', where), ufs_uri: str(v, 'ufs_uri', where), options: options as Record<string, string>, read_only: v.read_only };
}

function parseWorker(v: unknown, where: string): WorkerInfo {
  if (!isObject(v)) fail(`${where} is not an object`);
  const a = v.address;
  if (!isObject(a)) fail(`${where}.address is not an object`);
  const c = isObject(v.cache) ? v.cache : { used_bytes: 0, capacity_bytes: 0, pages: 0 };
  const state = str(v, 'state', where);
  if (state !== 'LIVE' && state !== 'LOST' && state !== 'DECOMMISSIONING' && state !== 'DECOMMISSIONED') fail(`${where}.state is not LIVE, LOST, DECOMMISSIONING or DECOMMISSIONED`);
  const id = str(v, 'id', where);
  if (id === '') fail(`${where}.id is empty`);
  return {
    id,
    address: {
      host: str(a, 'host', `${where}.address`),
      s3_port: num(a, 's3_port', `${where}.address`),
      rpc_port: num(a, 'rpc_port', `${where}.address`),
      https_port: num(a, 'https_port', `${where}.address`),
      // Added later: files written before it have none.
      web_port: a.web_port === undefined ? 0 : num(a, 'web_port', `${where}.address`),
    },
    state,
    last_heartbeat_ms: num(v, 'last_heartbeat_ms', where),
    cache: { used_bytes: num(c, 'used_bytes', `${where}.cache`), capacity_bytes: num(c, 'capacity_bytes', `${where}.cache`), pages: num(c, 'pages', `${where}.cache`) },
    registered_at_ms: num(v, 'registered_at_ms', where),
    version: str(v, 'version', where),
  };
}

function parseBucketPermissions(v: unknown, where: string): StoredBucketPermissions {
  if (!isObject(v)) fail(`${where} is not an object`);
  const grants = v.grants ?? {};
  if (!isObject(grants) || !Object.values(grants).every((g) => g === 'read' || g === 'write')) fail(`${where}.grants is not a map of read|write`);
  if (typeof v.anonymousRead !== 'boolean') fail(`${where}.anonymousRead is not a boolean`);
  return { owner: str(v, 'owner', where), grants: grants as Record<string, 'read' | 'write'>, anonymousRead: v.anonymousRead };
}

export function parseStateDocument(text: string): StateDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) fail('the document is not an object');
  if (raw.format !== STATE_FORMAT) fail(`unsupported format ${JSON.stringify(raw.format)} (expected ${STATE_FORMAT})`);
  const version = num(raw, 'version', 'state');
  if (!Number.isInteger(version) || version < 0) fail('state.version is not a non-negative integer');
  if (!Array.isArray(raw.mounts)) fail('state.mounts is not a list');
  if (!Array.isArray(raw.workers)) fail('state.workers is not a list');
  const bucketTags = raw.bucketTags ?? {};
  if (!isObject(bucketTags) || !Object.values(bucketTags).every((t) => isObject(t) && Object.values(t).every((x) => typeof x === 'string'))) {
    fail('state.bucketTags is not a map of tag maps');
  }
  let pathConfig: StoredPathConfig | undefined;
  if (raw.pathConfig !== undefined) {
    const pc = raw.pathConfig;
    if (!isObject(pc)) fail('state.pathConfig is not an object');
    const pcVersion = num(pc, 'version', 'state.pathConfig');
    if (!Number.isInteger(pcVersion) || pcVersion < 1) fail('state.pathConfig.version is not a positive integer');
    try {
      pathConfig = { version: pcVersion, document: validatePathConfig(pc.document) };
    } catch (err) {
      fail(`state.pathConfig.document is invalid: ${(err as Error).message}`);
    }
  }
  const perms = raw.bucketPermissions ?? {};
  if (!isObject(perms)) fail('state.bucketPermissions is not a map');
  const bucketPermissions = Object.fromEntries(Object.entries(perms).map(([b, p]) => [b, parseBucketPermissions(p, `state.bucketPermissions[${JSON.stringify(b)}]`)]));
  return {
    format: STATE_FORMAT,
    version,
    mounts: raw.mounts.map((m, i) => parseMount(m, `state.mounts[${i}]`)),
    workers: raw.workers.map((w, i) => parseWorker(w, `state.workers[${i}]`)),
    bucketTags: bucketTags as Record<string, Record<string, string>>,
    ...(pathConfig ? { pathConfig } : {}),
    bucketPermissions,
  };
}
