import HashRing from 'hashring';

export interface RingMember {
  readonly id: string;
}

/** Virtual nodes per worker; hashring places `vnodes × 4` points per server (ketama). */
export const RING_VNODES = 64;

/**
 * The consistent-hash owner function, the same pure code in every process: a ring built from
 * the same member ids answers the same owner for every key, whatever order the ids came in.
 * Keys are full namespace paths, `/bucket/key`.
 */
export class Ring {
  private readonly ring: HashRing | null;
  readonly memberIds: readonly string[];

  constructor(memberIds: Iterable<string>) {
    this.memberIds = [...new Set(memberIds)].sort();
    const servers: Record<string, { vnodes: number }> = {};
    for (const id of this.memberIds) servers[id] = { vnodes: RING_VNODES };
    this.ring = this.memberIds.length > 0 ? new HashRing(servers, 'md5', { 'max cache size': 10000 }) : null;
  }

  /** The owner of a path, or undefined when the ring is empty. */
  owner(key: string): string | undefined {
    return this.ring ? this.ring.get(key) : undefined;
  }

  /** `n` distinct members for a key, owner first (for replicas). */
  owners(key: string, n: number): string[] {
    return this.ring ? this.ring.range(key, Math.min(n, this.memberIds.length), true) : [];
  }

  get size(): number {
    return this.memberIds.length;
  }
}

/**
 * The namespace path of an object: `/bucket/key`. A sub-directory bucket names its directory
 * with ':' separators (seed 003: bucket "a:b:c" is /a/b/c), so both spellings of one object
 * have one path, one owner and one cache entry.
 */
export function namespacePath(bucket: string, key: string): string {
  return `/${bucket.split(':').join('/')}/${key}`;
}

/** The ring key of an object: its namespace path. */
export const objectPathKey = namespacePath;
