import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Every file and directory below `dir` (none when it does not exist). */
export async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) await walk(p, out);
  }
  return out;
}
