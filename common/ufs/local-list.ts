/**
 * The local UFS's listing engine. It runs in the listing thread (local-list-thread.ts) and does
 * its filesystem calls synchronously: a 1000-key page is a thousand stat calls, which take about
 * 2 ms in one thread and 10-25 ms as a thousand promises through libuv's pool.
 *
 * Directory snapshots. A page of a large flat directory used to cost a readdir of the whole
 * directory and a sort, for every page. A directory's sorted children are kept and reused while
 * the directory is provably unchanged:
 *
 *   - Any entry created, removed or renamed in a directory (by us, another worker sharing the
 *     directory, or any other program) sets the directory's ctime to the current time, and
 *     nothing can set a ctime otherwise. A snapshot records the directory's (dev, ino, ctime,
 *     mtime) as stat'ed *before* its readdir, and is reused only while a fresh stat, taken at the
 *     start of every listing that visits it, gives exactly the same values.
 *   - Timestamps are coarse (a kernel tick locally, a whole second on some filesystems), so two
 *     changes close together can leave the same ctime: a change made just after our readdir
 *     could be invisible. A snapshot is therefore kept only when the ctime it recorded is at
 *     least RACY_MS older than the clock when it was taken ("racily clean" in git's terms); a
 *     later change then stamps a ctime at least that much newer, which differs. A directory
 *     changed within the last RACY_MS is read again on every listing, as before.
 *
 * Sidecars (the MD5 ETag) live in a mirror directory under `.alluxio-meta/`, always replaced
 * by rename or removed, so the mirror directory's ctime covers them too: its snapshot holds the
 * names present (no read at all for a key without a sidecar) and the ETag part of every sidecar
 * read so far. Sizes and mtimes are never cached: every listed key is stat'ed on every listing
 * (a file rewritten in place changes no directory), and a sidecar counts only while it names
 * the file's exact size and mtime, as for stat().
 *
 * A page crosses to the main thread as columns (ListPageWire): a structured clone of a thousand
 * status objects cost more than the listing itself.
 *
 * Memory: snapshots are kept in least-recently-used order within MAX_CACHED_ENTRIES (children
 * plus parsed sidecars, and a fixed charge per snapshot; an entry is ~30 bytes for a short name,
 * ~150 with its sidecar's ETag, so well under 50 MB); one larger than that is used once.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { compareKeys } from './key-order.js';
import { DIRECTORY_CONTENT_TYPE, EMPTY_MD5, etagOf, fingerprintOf, META_DIR, RESERVED, SIDECAR_SUFFIX, type Sidecar } from './local-layout.js';
import { isInside } from '../safe-path.js';
import { UfsError, type ListOptions, type ListResult } from './types.js';

/** A snapshot is kept only when its directory had not changed for this long when it was read. */
export const RACY_MS = 2000;
/** Children plus parsed sidecars held by all snapshots (a 100k-key directory and its sidecars fit). */
export const MAX_CACHED_ENTRIES = 300_000;
/** What one snapshot costs besides its entries (so a tree of tiny directories is bounded too). */
const SNAPSHOT_CHARGE = 16;

/** A listing as the engine takes it: `startDir` is the directory key the walk starts at. */
export interface ListRequest extends ListOptions {
  startDir: string;
}

/** A listing page as the thread sends it: one entry per object in each column. */
export interface ListPageWire {
  keys: string[];
  sizes: Float64Array;
  mtimes: Float64Array;
  etags: string[];
  fingerprints: string[];
  commonPrefixes: string[];
  isTruncated: boolean;
  lastKey?: string;
}

/**
 * The statuses of a page. Like the S3 adapter's, a listing's statuses carry what S3 lists (key,
 * size, mtime, entity tag) and the fingerprint, not the metadata only stat() returns.
 */
export function fromWire(w: ListPageWire): ListResult {
  const objects = w.keys.map((key, i) => {
    const isDirectory = key.endsWith('/');
    return { key, isDirectory, size: w.sizes[i], mtimeMs: w.mtimes[i], etag: w.etags[i], fingerprint: w.fingerprints[i], ...(isDirectory ? { contentType: DIRECTORY_CONTENT_TYPE } : {}) };
  });
  return { objects, commonPrefixes: w.commonPrefixes, isTruncated: w.isTruncated, ...(w.lastKey !== undefined ? { lastKey: w.lastKey } : {}) };
}

/** What a listing needs of a sidecar. */
type SidecarEtag = Pick<Sidecar, 'size' | 'mtimeMs' | 'md5'>;

interface Version {
  dev: bigint;
  ino: bigint;
  ctimeNs: bigint;
  mtimeNs: bigint;
}

interface Children {
  kind: 'dir';
  /** Child keys relative to the directory ("name", or "name/" for a directory), in key order. */
  keys: string[];
}

interface Sidecars {
  kind: 'meta';
  /** File names in the mirror directory. */
  names: Set<string>;
  /** Sidecars read so far, by the key's last segment (null: unreadable). */
  parsed: Map<string, SidecarEtag | null>;
}

interface Snapshot {
  id: string;
  version: Version;
  takenAt: number;
  weight: number;
  value: Children | Sidecars;
}

function versionOf(st: BigIntStats): Version {
  return { dev: st.dev, ino: st.ino, ctimeNs: st.ctimeNs, mtimeNs: st.mtimeNs };
}

function sameVersion(a: Version, b: Version): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.ctimeNs === b.ctimeNs && a.mtimeNs === b.mtimeNs;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * The first index whose key (dir + child) is after `target` (or equal to it when `inclusive`),
 * stepping back onto the directory child that `target` lies inside, if any: its subtree holds
 * keys after `target` even though "name/" itself sorts before it.
 */
function startIndex(keys: string[], dir: string, target: string, inclusive: boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(dir + keys[mid], target);
    if (c > 0 || (inclusive && c === 0)) hi = mid;
    else lo = mid + 1;
  }
  // Siblings between "name/" and a target inside it would have to start with "name/": none can.
  if (lo > 0 && keys[lo - 1].endsWith('/') && target.startsWith(dir + keys[lo - 1])) lo--;
  return lo;
}

/** The first index at or after `from` whose key neither starts with `cp` nor sorts before it. */
function pastPrefix(keys: string[], dir: string, cp: string, from: number): number {
  let lo = from;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const k = dir + keys[mid];
    if (k.startsWith(cp) || compareKeys(k, cp) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class DirectoryLister {
  private readonly root: string;
  private readonly rootSlash: string;
  private readonly cache = new Map<string, Snapshot>();
  private weight = 0;

  private readonly now: () => number;
  private readonly maxEntries: number;

  /** `now` and `maxEntries` are for tests: a clock ahead of the filesystem's, a small budget. */
  constructor(root: string, opts: { now?: () => number; maxEntries?: number } = {}) {
    this.now = opts.now ?? Date.now;
    this.maxEntries = opts.maxEntries ?? MAX_CACHED_ENTRIES;
    this.root = path.resolve(root);
    this.rootSlash = this.root.endsWith('/') ? this.root : `${this.root}/`;
  }

  /** Entries held by cached snapshots (for tests and the memory bound). */
  get cachedWeight(): number {
    return this.weight;
  }

  list(req: ListRequest): ListPageWire {
    const { prefix, delimiter, startAfter = '', maxKeys } = req;
    const keys: string[] = [];
    const sizes: number[] = [];
    const mtimes: number[] = [];
    const etags: string[] = [];
    const fingerprints: string[] = [];
    const result = { commonPrefixes: [] as string[], isTruncated: false, lastKey: undefined as string | undefined };
    const page = (): ListPageWire => ({
      keys, sizes: Float64Array.from(sizes), mtimes: Float64Array.from(mtimes), etags, fingerprints,
      commonPrefixes: result.commonPrefixes, isTruncated: result.isTruncated, ...(result.lastKey !== undefined ? { lastKey: result.lastKey } : {}),
    });
    if (maxKeys <= 0) return page();
    let count = 0;
    const seenPrefixes = new Set<string>();

    // Entries are visited in S3 key order: within a directory, children sorted by their key
    // (a directory sorts as "name/"), each directory's subtree right after its own "name/" key.
    const visit = (dirKey: string): boolean => {
      const children = this.children(dirKey);
      if (!children) return true;
      const names = children.keys;
      // The sidecar folder is looked at once per directory, and only if a file is listed.
      let meta: Snapshot | null | undefined;
      const sidecar = (name: string): SidecarEtag | null => this.sidecarIn(meta === undefined ? (meta = this.sidecars(dirKey)) : meta, dirKey, name);
      let i = Math.max(startIndex(names, dirKey, startAfter, false), startIndex(names, dirKey, prefix, true));
      while (i < names.length) {
        const child = names[i];
        const k = dirKey + child;
        const isDir = child.endsWith('/');
        i++;
        if (!k.startsWith(prefix)) {
          // Keys in order: once past every key the prefix could start, nothing later matches.
          if (!(isDir && prefix.startsWith(k))) {
            if (compareKeys(k, prefix) > 0) return true;
            continue;
          }
        }
        if (isDir && compareKeys(k, startAfter) <= 0 && !startAfter.startsWith(k)) continue;
        if (!isDir && compareKeys(k, startAfter) <= 0) continue;

        if (k.startsWith(prefix) && delimiter) {
          const at = k.indexOf(delimiter, prefix.length);
          if (at >= 0) {
            const cp = k.slice(0, at + delimiter.length);
            // Everything rolled into this prefix (or before startAfter) is skipped at once.
            i = pastPrefix(names, dirKey, cp, i);
            if (seenPrefixes.has(cp) || compareKeys(cp, startAfter) <= 0) continue;
            if (count >= maxKeys) { result.isTruncated = true; return false; }
            seenPrefixes.add(cp);
            result.commonPrefixes.push(cp);
            result.lastKey = cp;
            count++;
            continue;
          }
        }
        if (k.startsWith(prefix) && compareKeys(k, startAfter) > 0) {
          if (count >= maxKeys) { result.isTruncated = true; return false; }
          // A key that vanished since the directory was read is skipped; the page fills on.
          if (this.statKey(dirKey, child, sidecar, keys, sizes, mtimes, etags, fingerprints)) {
            result.lastKey = k;
            count++;
          }
        }
        if (isDir && !visit(k)) return false;
      }
      return true;
    };
    visit(req.startDir);
    return page();
  }

  /**
   * Appends a key's current status to the page's columns; false when it is gone or is no longer
   * what its directory said. A folder object is always 0 bytes with the empty MD5.
   */
  private statKey(dirKey: string, child: string, sidecar: (name: string) => SidecarEtag | null, keys: string[], sizes: number[], mtimes: number[], etags: string[], fingerprints: string[]): boolean {
    const key = dirKey + child;
    const isDir = child.endsWith('/');
    // lstat: a name replaced by a symbolic link since the readdir is not listed (readdir's
    // link entries never are), so nothing outside the root is ever stat'ed through one.
    // Plain concatenation: the key's parts are readdir names or a prefix checked by the adapter.
    const st = lstatSync(`${this.rootSlash}${isDir ? key.slice(0, -1) : key}`, { throwIfNoEntry: false });
    if (!st || (isDir ? !st.isDirectory() : !st.isFile())) return false;
    keys.push(key);
    mtimes.push(st.mtimeMs);
    if (isDir) {
      sizes.push(0);
      etags.push(EMPTY_MD5);
      fingerprints.push('dir');
    } else {
      sizes.push(st.size);
      etags.push(etagOf(st, sidecar(child)));
      fingerprints.push(fingerprintOf(st));
    }
    return true;
  }

  private readSidecar(file: string): SidecarEtag | null {
    try {
      const { size, mtimeMs, md5 } = JSON.parse(readFileSync(file, 'utf8')) as Sidecar;
      return { size, mtimeMs, md5 };
    } catch {
      return null;
    }
  }

  /** The snapshot of directory `dirKey`'s sidecar folder (null: it has none). */
  private sidecars(dirKey: string): Snapshot | null {
    const metaDir = path.join(this.root, META_DIR, dirKey);
    return this.snapshot(metaDir, 'meta', () => ({ kind: 'meta', names: new Set(readdirSync(metaDir)), parsed: new Map() }), (v) => v.names.size);
  }

  private sidecarIn(snap: Snapshot | null, dirKey: string, name: string): SidecarEtag | null {
    if (!snap || snap.value.kind !== 'meta' || !snap.value.names.has(name + SIDECAR_SUFFIX)) return null;
    const sidecars = snap.value;
    const known = sidecars.parsed.get(name);
    if (known !== undefined) return known;
    const side = this.readSidecar(path.join(this.root, META_DIR, dirKey, name + SIDECAR_SUFFIX));
    sidecars.parsed.set(name, side);
    snap.weight++;
    if (this.cache.get(snap.id) === snap) {
      this.weight++;
      this.evict();
    }
    return side;
  }


  /** A directory's children in key order, or null when it does not exist. */
  private children(dirKey: string): Children | null {
    const dir = dirKey === '' ? this.root : path.join(this.root, dirKey.slice(0, -1));
    const snap = this.snapshot(dir, 'dir', () => {
      // The walk only enters real directories below the root, but a directory replaced by a
      // symbolic link since the last listing must not lead it elsewhere.
      const realRoot = (() => { try { return realpathSync.native(this.root); } catch { return this.root; } })();
      if (!isInside(realRoot, realpathSync.native(dir))) throw new UfsError('InvalidKey', `key leads outside the root through a symbolic link: ${dirKey}`);
      const keys = readdirSync(dir, { withFileTypes: true })
        .filter((e) => !(dirKey === '' && RESERVED.has(e.name)) && (e.isDirectory() || e.isFile()))
        .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
        .sort(compareKeys);
      return { kind: 'dir', keys };
    }, (v) => v.keys.length);
    return snap && snap.value.kind === 'dir' ? snap.value : null;
  }

  /**
   * The snapshot of directory `abs`: the cached one while the directory's version is unchanged
   * (see the module comment for why that is enough), else a fresh read, cached when it cannot
   * be racy. Null when the directory does not exist.
   */
  private snapshot<T extends Children | Sidecars>(abs: string, kind: T['kind'], read: () => T, size: (v: T) => number): Snapshot | null {
    const id = `${kind}:${abs}`;
    const takenAt = this.now();
    let st: BigIntStats;
    try {
      st = statSync(abs, { bigint: true });
    } catch (err) {
      if (isMissing(err)) { this.drop(id); return null; }
      throw err;
    }
    if (!st.isDirectory()) { this.drop(id); return null; }
    const version = versionOf(st);
    const cached = this.cache.get(id);
    // A clock stepped back since the snapshot voids the reasoning: read again.
    if (cached && sameVersion(cached.version, version) && takenAt >= cached.takenAt) {
      this.cache.delete(id);
      this.cache.set(id, cached);
      return cached;
    }
    this.drop(id);
    let value: T;
    try {
      value = read();
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    const snap: Snapshot = { id, version, takenAt, weight: size(value) + SNAPSHOT_CHARGE, value };
    const lastChangeMs = Number(st.ctimeNs > st.mtimeNs ? st.ctimeNs : st.mtimeNs) / 1e6;
    if (lastChangeMs < takenAt - RACY_MS && snap.weight <= this.maxEntries) {
      this.cache.set(id, snap);
      this.weight += snap.weight;
      this.evict();
    }
    return snap;
  }

  private drop(id: string): void {
    const old = this.cache.get(id);
    if (!old) return;
    this.cache.delete(id);
    this.weight -= old.weight;
  }

  private evict(): void {
    while (this.weight > this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done) return;
      this.drop(oldest.value);
    }
  }
}
