/**
 * Namespace paths as operators type them for whole-prefix operations (`alluxio job load`,
 * `alluxio fs free`): `/bucket/dir`, `/bucket/dir/`, `/bucket` or `s3://bucket/dir`, and the one
 * rule for what such a path covers, shared by the coordinator (listing the UFS, counting
 * write-cache entries) and the workers (dropping cached pages).
 */

export class NamespacePathError extends Error {
  override name = 'NamespacePathError';
}

/**
 * `/bucket[/key...]` from `/bucket/...` or `s3://bucket/...`. Refuses relative paths, empty
 * buckets and `.`/`..` segments (they could name something outside the bucket).
 */
export function normalizeNamespacePath(input: string): string {
  let p = input.trim();
  if (/^s3a?:\/\//i.test(p)) p = `/${p.replace(/^s3a?:\/\//i, '')}`;
  if (!p.startsWith('/')) throw new NamespacePathError(`paths start with / (or s3://), e.g. /bucket/dir (got "${input}")`);
  const segments = p.slice(1).split('/');
  if (segments[0] === '') throw new NamespacePathError(`name a bucket, e.g. /bucket or /bucket/dir (got "${input}")`);
  if (segments.some((s, i) => s === '.' || s === '..' || (s === '' && i < segments.length - 1))) {
    throw new NamespacePathError(`"${input}" has an empty, "." or ".." segment`);
  }
  return p;
}

/** The bucket (first segment) and the rest of a normalized namespace path. */
export function splitNamespacePath(p: string): { bucket: string; rest: string } {
  const slash = p.indexOf('/', 1);
  return slash < 0 ? { bucket: p.slice(1), rest: '' } : { bucket: p.slice(1, slash), rest: p.slice(slash + 1) };
}

/**
 * Whether the object at `objectPath` is covered by the operation's `path`: a path names an
 * object and, as a directory, everything below it (`/b/dir` covers `/b/dir` and `/b/dir/x`,
 * never `/b/dir2`); a path ending in `/`, or a bare bucket, covers what is below it.
 */
export function coveredBy(objectPath: string, path: string): boolean {
  const { rest } = splitNamespacePath(path);
  if (rest === '' || path.endsWith('/')) {
    const dir = path.endsWith('/') ? path : `${path}/`;
    return objectPath.startsWith(dir);
  }
  return objectPath === path || objectPath.startsWith(`${path}/`);
}
