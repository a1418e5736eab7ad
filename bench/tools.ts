/**
 * The Debian programs the benchmark drives (nginx, wrk), installed the way .ci/run does when
 * we are root, and otherwise named in one clear line. moto_server comes with the machine's
 * python; s3rver with npm.
 */
import { spawnSync } from 'node:child_process';

const DEBIAN_TOOLS: Record<string, string> = { nginx: 'nginx', wrk: 'wrk' };

export class MissingTool extends Error {
  override name = 'MissingTool';
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Installs missing nginx/wrk with apt-get when root; throws MissingTool naming them otherwise. */
export function ensureTools(log: (line: string) => void): void {
  let missing = Object.keys(DEBIAN_TOOLS).filter((t) => !onPath(t));
  if (missing.length > 0 && process.getuid?.() === 0 && onPath('apt-get')) {
    const pkgs = missing.map((t) => DEBIAN_TOOLS[t]!);
    log(`installing ${pkgs.join(' ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    spawnSync('apt-get', ['install', '-y', ...pkgs], { stdio: 'inherit', env });
    missing = missing.filter((t) => !onPath(t));
  }
  if (missing.length > 0) {
    throw new MissingTool(`the benchmark needs ${missing.join(' and ')}: install them with \`apt-get install ${missing.map((t) => DEBIAN_TOOLS[t]).join(' ')}\` (as root, npm run bench does it itself)`);
  }
  if (!onPath('moto_server')) throw new MissingTool("the benchmark needs moto_server: install it with `pip install 'moto[server]'`");
}
