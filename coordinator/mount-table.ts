/**
 * The mount table: which UFS backs each bucket. The root mount `/` comes from the
 * configuration; every other mount is one bucket-named directory at the top of the namespace.
 * A mount is accepted only after its UFS has been built with the effective options and has
 * passed a probe, so a typo in an endpoint or a credential fails at `mount add` time rather
 * than on the first client request.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type Config } from '../common/config/config.js';
import { MOUNT_OPTION_KEYS, SECRET_OPTION_KEYS } from '../common/config/registry.js';
import type { Logger } from '../common/log.js';
import { createUfs, type UfsOptions, type UnderFileSystem } from '../common/ufs/index.js';
import type { MountInfo } from '../proto/index.js';
import type { ClusterState } from './cluster-state.js';
import { CoordinatorError } from './errors.js';

export const REDACTED = '******';
export const ROOT_PATH = '/';
export const DEFAULT_PROBE_TIMEOUT_MS = 15_000;

// A valid S3 bucket name: the mount point is what S3 clients see as a bucket.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export type UfsFactory = (uri: string, opts: UfsOptions) => UnderFileSystem;

/** Secret option values replaced by "******"; what the CLI, the REST API and the logs see. */
export function redactMount(m: MountInfo): MountInfo {
  const options: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.options)) options[k] = SECRET_OPTION_KEYS.has(k) ? REDACTED : v;
  return { ...m, options };
}

/** `/name` with name a valid bucket name; one trailing slash is forgiven. */
export function normalizeMountPath(input: string | null | undefined): string {
  const raw = input ?? '';
  const p = raw.length > 1 && raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (p === ROOT_PATH) return p;
  if (!p.startsWith('/') || p.indexOf('/', 1) !== -1) {
    throw new CoordinatorError('INVALID_ARGUMENT', `invalid mount path "${raw}": mounts are top-level directories (buckets) like /my-bucket, exactly one level below /`);
  }
  if (!BUCKET_NAME.test(p.slice(1))) {
    throw new CoordinatorError(
      'INVALID_ARGUMENT',
      `invalid mount path "${raw}": the name must be a valid bucket name, 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit`,
    );
  }
  return p;
}

/** The root mount from alluxio.master.mount.table.root.*, rebuilt on every start. */
export async function rootMountFromConfig(config: Config): Promise<MountInfo> {
  const key = 'alluxio.master.mount.table.root.ufs';
  const configured = config.string(key).trim();
  let uri: string;
  if (configured === '') {
    const dir = path.join(config.dataDir(), 'ufs');
    await mkdir(dir, { recursive: true });
    uri = `file://${dir}`;
  } else if (HAS_SCHEME.test(configured)) {
    uri = configured;
  } else {
    // A plain path, resolved against alluxio.home like every other path key.
    uri = `file://${config.path(key)}`;
  }
  return { path: ROOT_PATH, ufs_uri: uri, options: {}, read_only: config.bool('alluxio.master.mount.table.root.readonly') };
}

export interface MountTableOptions {
  /** Supplies defaults for mount options and validates their values. */
  config: Config;
  /** Where UFS adapters may stage data while probing. */
  stagingDir: string;
  probeTimeoutMs?: number;
  createUfs?: UfsFactory;
}

export class MountTable {
  // Paths whose probe is in flight: a concurrent add of the same path is a duplicate.
  private readonly adding = new Set<string>();
  private readonly createUfs: UfsFactory;
  private readonly probeTimeoutMs: number;

  constructor(private readonly state: ClusterState, private readonly opts: MountTableOptions, private readonly log: Logger) {
    this.createUfs = opts.createUfs ?? createUfs;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  }

  /** Mounts with secrets redacted, root first. */
  list(): MountInfo[] {
    return this.state.listMounts().map(redactMount);
  }

  /** Validates, probes, then commits the mount; returns it redacted. */
  async add(req: MountInfo | null | undefined): Promise<MountInfo> {
    if (!req) throw new CoordinatorError('INVALID_ARGUMENT', 'a mount (path, ufs_uri) is required');
    const mountPath = normalizeMountPath(req.path);
    if (mountPath === ROOT_PATH) {
      throw new CoordinatorError('INVALID_ARGUMENT', 'the root mount / comes from alluxio.master.mount.table.root.ufs and cannot be added');
    }
    const options = this.validateOptions(req.options ?? {});
    const uriIn = (req.ufs_uri ?? '').trim();
    if (uriIn === '') throw new CoordinatorError('INVALID_ARGUMENT', 'ufs_uri must not be empty');
    if (!HAS_SCHEME.test(uriIn) && !path.isAbsolute(uriIn)) {
      throw new CoordinatorError('INVALID_ARGUMENT', `cannot mount ${uriIn} at ${mountPath}: a local UFS must be an absolute path or a file:// URI`);
    }
    if (this.state.getMount(mountPath) || this.adding.has(mountPath)) {
      throw new CoordinatorError('ALREADY_EXISTS', `${mountPath} is already mounted`);
    }
    const readOnly = Boolean(req.read_only);
    // Stored (and named in errors) the way workers will see it.
    const uriNormalized = path.isAbsolute(uriIn) ? `file://${path.resolve(uriIn)}` : uriIn;
    this.adding.add(mountPath);
    try {
      const uri = await this.probe(uriNormalized, mountPath, options, readOnly);
      const mount: MountInfo = { path: mountPath, ufs_uri: uri, options, read_only: readOnly };
      this.state.setMount(mount);
      try {
        await this.state.commit(`mount ${mountPath}`, { bump: true });
      } catch (err) {
        // Not durable, so not accepted: the caller sees a failure and may retry.
        this.state.deleteMount(mountPath);
        throw err;
      }
      this.log.info({ mount: redactMount(mount) }, 'mount added');
      return redactMount(mount);
    } finally {
      this.adding.delete(mountPath);
    }
  }

  async remove(input: string): Promise<void> {
    const mountPath = normalizeMountPath(input);
    if (mountPath === ROOT_PATH) {
      throw new CoordinatorError('FAILED_PRECONDITION', 'the root mount / cannot be removed; change alluxio.master.mount.table.root.ufs instead');
    }
    const mount = this.state.getMount(mountPath);
    if (!mount) throw new CoordinatorError('NOT_FOUND', `${mountPath} is not mounted`);
    this.state.deleteMount(mountPath);
    try {
      await this.state.commit(`unmount ${mountPath}`, { bump: true });
    } catch (err) {
      this.state.setMount(mount);
      throw err;
    }
    this.log.info({ mount: redactMount(mount) }, 'mount removed');
  }

  private validateOptions(options: Record<string, string>): Record<string, string> {
    const allowed = new Set(MOUNT_OPTION_KEYS);
    for (const key of Object.keys(options)) {
      if (!allowed.has(key)) {
        throw new CoordinatorError('INVALID_ARGUMENT', `unknown mount option "${key}"; accepted options: ${MOUNT_OPTION_KEYS.join(', ')}`);
      }
    }
    try {
      // The registry knows each key's type: "threads.max=abc" is refused here, by name.
      this.opts.config.with(options);
    } catch (err) {
      if (err instanceof ConfigError) throw new CoordinatorError('INVALID_ARGUMENT', `invalid mount option ${err.message}`);
      throw err;
    }
    return { ...options };
  }

  /** Builds the UFS as a worker would (config defaults, then mount options) and probes it. Returns its normalized URI. */
  private async probe(uri: string, mountPath: string, options: Record<string, string>, readOnly: boolean): Promise<string> {
    const effective: Record<string, string> = {};
    for (const key of MOUNT_OPTION_KEYS) {
      const v = this.opts.config.raw(key);
      if (v !== '') effective[key] = v;
    }
    Object.assign(effective, options);
    let ufs: UnderFileSystem;
    try {
      ufs = this.createUfs(uri, { options: effective, stagingDir: this.opts.stagingDir });
    } catch (err) {
      throw new CoordinatorError('INVALID_ARGUMENT', `cannot mount ${uri} at ${mountPath}: ${(err as Error).message}`, { cause: err });
    }
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`no answer within ${this.probeTimeoutMs} ms`));
      }, this.probeTimeoutMs);
    });
    try {
      await Promise.race([ufs.probe(readOnly), timeout]);
    } catch (err) {
      this.log.info({ mount: { path: mountPath, ufs_uri: uri, read_only: readOnly }, reason: (err as Error).message }, 'mount refused: UFS probe failed');
      throw new CoordinatorError('FAILED_PRECONDITION', `cannot mount ${uri} at ${mountPath}: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
      const closing = ufs.close().catch((err) => this.log.warn({ err, ufs_uri: uri }, 'closing the probe UFS failed'));
      // A probe that timed out may still hang on the network: do not wait for it to wind down.
      if (!timedOut) await closing;
    }
    return ufs.uri;
  }
}
