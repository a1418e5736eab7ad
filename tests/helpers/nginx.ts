/**
 * Debian's nginx as the load balancer of deploy/nginx.conf, for tests: the file is rendered into
 * a temp dir with the test cluster's workers as the upstream servers and a free loopback port
 * to listen on; everything else in it is used as shipped. nginx runs in the foreground with its
 * prefix, pid file, temp paths and logs in that dir (so it needs nothing under /var/lib/nginx),
 * and close() stops it (SIGQUIT: graceful, then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, runCommand, tempDir } from './cluster.js';
import { freePort, waitFor } from './ports.js';

export const NGINX_CONF = path.join(REPO_ROOT, 'deploy', 'nginx.conf');
const NGINX = process.env.NGINX_BIN ?? 'nginx';

/**
 * deploy/nginx.conf with its upstream servers replaced by `upstreams` (host:port), listening on
 * `listen` (host:port), and temp paths relative to the nginx prefix. Throws when the file no
 * longer has the markers this relies on.
 */
export function renderNginxConf(template: string, upstreams: string[], listen: string): string {
  const block = /^([ \t]*)# BEGIN workers\n([\s\S]*?)^[ \t]*# END workers\n/m.exec(template);
  if (!block) throw new Error('deploy/nginx.conf has no "# BEGIN workers" ... "# END workers" block');
  const first = /^\s*server\s+\S+(\s[^;]*)?;/m.exec(block[2]);
  if (!first) throw new Error('deploy/nginx.conf has no server line between its worker markers');
  const params = first[1] ?? '';
  const servers = upstreams.map((u) => `${block[1]}server ${u}${params};\n`).join('');
  let out = template.replace(block[0], `${block[1]}# BEGIN workers\n${servers}${block[1]}# END workers\n`);
  const listens = out.match(/^\s*listen\s+[^;]+;/gm) ?? [];
  if (listens.length !== 1) throw new Error(`deploy/nginx.conf must have exactly one listen directive, found ${listens.length}`);
  out = out.replace(/^(\s*)listen\s+[^;]+;/m, `$1listen ${listen};`);
  if (!/^http\s*\{/m.test(out)) throw new Error('deploy/nginx.conf has no http block');
  // The shipped file logs to the container's stdout/stderr; here the logs go to files in the
  // prefix (Node's stdio pipes are sockets, which nginx cannot open as /dev/std*).
  out = out.replace(/\/dev\/stderr/g, 'logs/error.log').replace(/\/dev\/stdout/g, 'logs/access.log');
  // Temp paths inside the prefix: nginx must not need /var/lib/nginx (they stay empty when
  // nothing is buffered, which the tests check).
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path temp/${t};`).join('\n');
  return out.replace(/^http\s*\{\n/m, (m) => `${m}${temps}\n`);
}

export interface NginxLb {
  readonly endpoint: string;
  readonly port: number;
  /** The prefix dir (rendered conf, logs, temp paths). */
  readonly dir: string;
  readonly logFile: string;
  /** Files nginx spooled to disk under its temp paths (none while it streams). */
  tempFiles(): Promise<string[]>;
  log(lines?: number): string;
  close(): Promise<void>;
}

/** Renders deploy/nginx.conf for these upstreams, checks it with `nginx -t`, starts nginx. */
export async function startNginx(upstreams: string[], dir = tempDir('nginx')): Promise<NginxLb> {
  const port = await freePort();
  // nginx's worker processes drop root for an unprivileged user, which must reach the temp paths.
  await fs.mkdir(dir, { recursive: true });
  await fs.chmod(dir, 0o755);
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await fs.mkdir(path.join(dir, 'temp', t), { recursive: true });
  await fs.mkdir(path.join(dir, 'logs'), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  await fs.writeFile(conf, renderNginxConf(await fs.readFile(NGINX_CONF, 'utf8'), upstreams, `127.0.0.1:${port}`));
  const globals = `daemon off; pid ${path.join(dir, 'nginx.pid')};`;
  const args = ['-p', `${dir}/`, '-e', path.join(dir, 'logs', 'error.log'), '-c', conf, '-g', globals];
  const check = await runCommand(NGINX, ['-t', ...args], { timeoutMs: 60_000 }).catch((err: Error) => {
    throw new Error(`nginx is required (Debian package nginx; .ci/run installs it): ${err.message}`);
  });
  if (check.code !== 0) throw new Error(`nginx -t refused the rendered deploy/nginx.conf (${conf}):\n${check.stderr}`);

  const logFile = path.join(dir, 'logs', 'error.log');
  const out = createWriteStream(path.join(dir, 'logs', 'nginx.out'), { flags: 'a' });
  const proc: ChildProcess = spawn(NGINX, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.pipe(out);
  proc.stderr!.pipe(out);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  const log = (lines = 40) => {
    try {
      return readFileSync(logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no nginx log)';
    }
  };
  const close = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGQUIT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitFor('nginx to proxy to a worker', async () => {
      if (proc.exitCode !== null) throw new Error(`nginx exited (${proc.exitCode}):\n${log()}`);
      return (await fetch(`${endpoint}/_alluxio/health`)).ok;
    }, 30_000);
  } catch (err) {
    await close();
    throw err;
  }
  const tempFiles = async () => {
    const found: string[] = [];
    for (const t of ['client_body', 'proxy']) {
      const d = path.join(dir, 'temp', t);
      for (const f of await fs.readdir(d, { recursive: true }).catch(() => [] as string[])) {
        if ((await fs.stat(path.join(d, f))).isFile()) found.push(path.join(d, f));
      }
    }
    return found;
  };
  return { endpoint, port, dir, logFile, tempFiles, log, close };
}
