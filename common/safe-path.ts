/**
 * Turning request-derived strings (keys, bucket names, upload ids, write ids, page indexes)
 * into file paths. Every such path is resolved and checked with `path.relative` against the
 * root it must stay in, never by comparing string prefixes ("/data/ufs-other" starts with
 * "/data/ufs"). A path that would leave its root is a `PathEscapeError`, which the S3 edge
 * answers as 400 InvalidArgument.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export class PathEscapeError extends Error {
  override name = 'PathEscapeError';
  readonly code = 'PathEscape';
}

/** True when `target` is `root` itself or below it (both already resolved). */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || !climbs(rel);
}

/** A relative path that leaves its base: "..", "../x", or absolute (another drive). "..x" is a name. */
function climbs(rel: string): boolean {
  return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
}

/**
 * `root` joined with `parts`, resolved, refused (PathEscapeError) when the result is not
 * strictly below `root` or a part holds a NUL byte. Absolute parts and `..` segments are
 * judged by where they lead, so `a/../b` is fine and `../x`, `/etc` and `a/../../x` are not.
 */
export function resolveInside(root: string, ...parts: string[]): string {
  if (parts.some((p) => p.includes('\0'))) throw new PathEscapeError(`a path part holds a NUL byte: ${JSON.stringify(parts)}`);
  const base = path.resolve(root);
  const full = path.resolve(base, ...parts);
  const rel = path.relative(base, full);
  if (rel === '' || climbs(rel)) throw new PathEscapeError(`${JSON.stringify(parts.join('/'))} leaves ${base}`);
  return full;
}

/**
 * One path segment that names exactly one entry of its directory: not empty, not "." or "..",
 * no separator ('/' or '\\') and no NUL.
 */
export function isSafeSegment(s: string): boolean {
  return s.length > 0 && s !== '.' && s !== '..' && !/[/\\\0]/.test(s);
}

/**
 * Symbolic links: `target` (resolved inside `root` by resolveInside) must also stay inside
 * `root` once links are followed. The deepest part of it that exists is resolved with
 * realpath (a file not written yet is judged by its directory). Refuses with PathEscapeError.
 * `knownRealRoot`: the root's own real path, when the caller has resolved it once already.
 */
export async function assertRealInside(root: string, target: string, knownRealRoot?: string): Promise<void> {
  const realRoot = knownRealRoot ?? (await fs.realpath(root).catch(() => path.resolve(root)));
  let probe = target;
  for (;;) {
    try {
      const real = await fs.realpath(probe);
      if (!isInside(realRoot, real)) throw new PathEscapeError(`${target} leads outside ${root} through a symbolic link`);
      return;
    } catch (err) {
      if (err instanceof PathEscapeError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      const parent = path.dirname(probe);
      if (parent === probe || !isInside(path.resolve(root), parent)) return;
      probe = parent;
    }
  }
}
