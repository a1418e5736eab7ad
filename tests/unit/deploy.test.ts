/**
 * The deploy/ folder, checked without a container engine:
 * - docker-compose.yml validates with Debian's docker-compose (`config`), with and without the
 *   s3 profile, and has the services, volumes and settings the README promises;
 * - the Dockerfile parses into its stages, every COPY from the build context names a file or
 *   folder of the repository, every COPY --from=build names something the build stage has (a
 *   folder it copied in, or the tsc output of one), and the ENTRYPOINT is the alluxio bin;
 * - deploy/nginx.conf has the streaming and pass-through settings, and its rendered copy is
 *   accepted by `nginx -t`;
 * - every key in the sample alluxio-site.properties is a real key.
 * Building the image needs an engine and is not claimed here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, runCommand, tempDir } from '../helpers/cluster.js';
import { renderNginxConf } from '../helpers/nginx.js';
import { REGISTRY, ALIASES } from '../../common/config/registry.js';

const DEPLOY = path.join(REPO_ROOT, 'deploy');
const COMPOSE = path.join(DEPLOY, 'docker-compose.yml');

/** The service blocks of `docker-compose config` output (top-level services, two-space indented). */
function serviceBlocks(out: string): Map<string, string> {
  const body = out.slice(out.indexOf('services:\n') + 'services:\n'.length).split(/^\S/m)[0];
  const blocks = new Map<string, string>();
  for (const m of body.split(/^(?=  [A-Za-z0-9_-]+:\n)/m)) {
    const name = /^  ([A-Za-z0-9_-]+):\n/.exec(m)?.[1];
    if (name) blocks.set(name, m);
  }
  return blocks;
}

/** Services that start without a profile, and those that need one (Compose v1 lists both). */
function byProfile(out: string): { always: string[]; profiled: Record<string, string> } {
  const always: string[] = [];
  const profiled: Record<string, string> = {};
  for (const [name, block] of serviceBlocks(out)) {
    const p = /^    profiles:\n    - (\S+)/m.exec(block)?.[1];
    if (p) profiled[name] = p;
    else always.push(name);
  }
  return { always: always.sort(), profiled };
}

async function composeConfig(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await runCommand('docker-compose', ['-f', COMPOSE, ...args, 'config'], { env, timeoutMs: 120_000 }).catch((err: Error) => {
    throw new Error(`docker-compose is required (Debian package docker-compose; .ci/run installs it): ${err.message}`);
  });
  assert.equal(r.code, 0, `docker-compose config failed:\n${r.stderr}`);
  return r.stdout;
}

describe('deploy/docker-compose.yml', () => {
  it('validates, and runs a coordinator, three workers with their own caches and nginx on 29998', async () => {
    const out = await composeConfig([]);
    assert.deepEqual(byProfile(out), { always: ['coordinator', 'lb', 'worker-0', 'worker-1', 'worker-2'], profiled: { minio: 's3', 'minio-init': 's3' } });
    for (const i of [0, 1, 2]) {
      assert.match(out, new RegExp(`alluxio\\.worker\\.hostname=worker-${i}\\n`), `worker-${i} advertises its service name`);
      assert.match(out, new RegExp(`worker-${i}-cache:/opt/alluxio/cache:rw`), `worker-${i} has its own cache volume`);
    }
    assert.match(out, /published: 29998\s+target: 29998/);
    assert.match(out, /deploy\/nginx\.conf:\/etc\/nginx\/nginx\.conf:ro/);
    assert.match(out, /deploy\/conf:\/opt\/alluxio\/conf:ro/);
    assert.match(out, /alluxio\.worker\.s3\.authentication=SIGV4/);
    assert.match(out, /alluxio\.worker\.s3\.credentials\.file=\/opt\/alluxio\/conf\/s3-credentials/);
    assert.match(out, /alluxio\.master\.mount\.table\.root\.ufs=\/opt\/alluxio\/ufs\n/);
  });

  it('validates with the s3 profile, with the root mount pointed at MinIO', async () => {
    const out = await composeConfig(['--profile', 's3'], { ALLUXIO_ROOT_UFS: 's3://alluxio-root/' });
    assert.deepEqual([...serviceBlocks(out).keys()].sort(), ['coordinator', 'lb', 'minio', 'minio-init', 'worker-0', 'worker-1', 'worker-2']);
    assert.match(out, /alluxio\.master\.mount\.table\.root\.ufs=s3:\/\/alluxio-root\//);
    assert.match(out, /alluxio\.underfs\.s3\.endpoint=http:\/\/minio:9000/);
    assert.match(out, /mc mb --ignore-existing ufs\/alluxio-root/);
  });
});

interface Stage { name: string; from: string; lines: string[] }

/** The Dockerfile's instructions per stage (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of joined) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ from: from[1], name: from[2] ?? String(stages.length), lines: [] });
    else {
      assert.ok(stages.length > 0, `instruction before FROM: ${line}`);
      stages[stages.length - 1].lines.push(line);
    }
  }
  return stages;
}

describe('deploy/Dockerfile', () => {
  const stages = parseDockerfile(readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8'));
  const tsInclude = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string } }).compilerOptions.outDir;

  it('has a node:20 build stage and a slim node:20 runtime stage that runs as a non-root user', () => {
    assert.deepEqual(stages.map((s) => s.name), ['build', 'runtime']);
    assert.match(stages[0].from, /^node:20/);
    assert.match(stages[1].from, /^node:20.*slim/);
    const build = stages[0].lines.join('\n');
    assert.match(build, /npm ci/);
    assert.match(build, /tsc -p \./);
    assert.match(build, /npm prune --omit=dev/);
    assert.match(build, /g\+\+/, 'build tools for better-sqlite3');
    const user = stages[1].lines.filter((l) => /^USER\s/i.test(l)).pop();
    assert.ok(user && !/^USER\s+(root|0)(:|$)/i.test(user), `the runtime stage runs as ${user ?? 'root'}`);
  });

  it('copies only what exists: context paths in the repository, build-stage paths made by the build', () => {
    const inBuild = new Set<string>();
    for (const line of stages[0].lines.filter((l) => /^COPY\s/i.test(l))) {
      const parts = line.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      const dest = parts.pop()!;
      for (const src of parts) {
        assert.ok(existsSync(path.join(REPO_ROOT, src)), `COPY ${src}: not in the repository`);
        // Sources copied into the build stage's workdir; a folder of them compiles to dist/<folder>.
        inBuild.add(dest.endsWith('/') ? src : dest.replace(/^\.\//, ''));
      }
    }
    const runtimeCopies = stages[1].lines.filter((l) => /^COPY\s/i.test(l));
    assert.ok(runtimeCopies.length > 0);
    for (const line of runtimeCopies) {
      const from = /--from=(\S+)/.exec(line)?.[1];
      const parts = line.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      parts.pop();
      for (const src of parts) {
        if (!from) {
          assert.ok(existsSync(path.join(REPO_ROOT, src)), `COPY ${src}: not in the repository`);
          continue;
        }
        assert.equal(from, 'build');
        const rel = src.replace(/^\/src\//, '');
        const made = rel === 'node_modules' || inBuild.has(rel)
          || (rel.startsWith(`${tsInclude}/`) && inBuild.has(rel.slice(tsInclude.length + 1)) && statSync(path.join(REPO_ROOT, rel.slice(tsInclude.length + 1))).isDirectory());
        assert.ok(made, `COPY --from=build ${src}: the build stage has no such path`);
      }
    }
  });

  it('runs the alluxio bin, which starts the compiled CLI', () => {
    const runtime = stages[1].lines.join('\n');
    const entry = /^ENTRYPOINT\s+(\[.*\])$/m.exec(runtime);
    assert.ok(entry, 'no exec-form ENTRYPOINT');
    assert.deepEqual(JSON.parse(entry[1]), ['alluxio']);
    assert.match(runtime, /ln -s \/opt\/alluxio\/bin\/alluxio \/usr\/local\/bin\/alluxio/);
    const bin = readFileSync(path.join(REPO_ROOT, 'bin', 'alluxio'), 'utf8');
    const target = /import\(?'\.\.\/(dist\/[^']+)'/.exec(bin)?.[1];
    assert.ok(target, 'bin/alluxio imports no dist module');
    assert.match(runtime, new RegExp(`COPY --from=build /src/${path.dirname(target).replace(/\//g, '\\/')} `), `the image does not carry ${target}`);
    assert.ok(existsSync(path.join(REPO_ROOT, target)), `${target} is not built`);
    const cmd = /^CMD\s+(\[.*\])$/m.exec(runtime);
    assert.ok(cmd, 'no exec-form CMD');
    assert.ok(['cluster', 'worker', 'coordinator'].includes((JSON.parse(cmd[1]) as string[])[0]), cmd[1]);
  });
});

describe('deploy/nginx.conf', () => {
  const conf = readFileSync(path.join(DEPLOY, 'nginx.conf'), 'utf8');

  it('streams both ways and passes requests as signed', () => {
    for (const d of [
      /proxy_request_buffering off;/, /proxy_buffering off;/, /client_max_body_size 0;/, /proxy_http_version 1\.1;/,
      /proxy_set_header Connection "";/, /proxy_set_header Host \$http_host;/, /underscores_in_headers on;/, /ignore_invalid_headers off;/,
      /keepalive \d+;/, /proxy_next_upstream error timeout;/, /proxy_redirect off;/,
    ]) assert.match(conf, d);
    // Nothing rewrites a signed header.
    assert.doesNotMatch(conf, /proxy_set_header\s+(Authorization|x-amz-|Content-MD5|Content-Type|Range)/i);
    assert.doesNotMatch(conf, /proxy_pass\s+http:\/\/[^;]*\/[^;]*;/, 'proxy_pass with a URI part would re-encode the request URI');
  });

  it('renders for other upstreams and ports into a copy nginx -t accepts', async () => {
    const dir = tempDir('nginx-conf');
    const rendered = renderNginxConf(conf, ['127.0.0.1:1', '127.0.0.1:2'], '127.0.0.1:3');
    assert.match(rendered, /server 127\.0\.0\.1:1 max_fails=1 fail_timeout=2s;\n\s*server 127\.0\.0\.1:2 max_fails=1 fail_timeout=2s;/);
    assert.match(rendered, /listen 127\.0\.0\.1:3;/);
    const file = path.join(dir, 'nginx.conf');
    writeFileSync(file, rendered);
    for (const d of ['logs', 'temp/client_body', 'temp/proxy', 'temp/fastcgi', 'temp/uwsgi', 'temp/scgi']) mkdirSync(path.join(dir, d), { recursive: true });
    const r = await runCommand('nginx', ['-t', '-p', `${dir}/`, '-e', path.join(dir, 'logs', 'error.log'), '-c', file, '-g', `pid ${dir}/nginx.pid;`], { timeoutMs: 60_000 })
      .catch((err: Error) => { throw new Error(`nginx is required (Debian package nginx): ${err.message}`); });
    assert.equal(r.code, 0, r.stderr);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('deploy/conf/alluxio-site.properties', () => {
  it('names only real keys', () => {
    const text = readFileSync(path.join(DEPLOY, 'conf', 'alluxio-site.properties'), 'utf8');
    const keys = [...text.matchAll(/^#?\s*((?:alluxio|aws)\.[A-Za-z0-9._-]+)=/gm)].map((m) => m[1]);
    assert.ok(keys.length >= 30, `only ${keys.length} keys in the sample`);
    const unknown = keys.filter((k) => !REGISTRY.has(k) && !ALIASES.has(k));
    assert.deepEqual(unknown, []);
    assert.doesNotMatch(text, /^[^#\s]/m, 'the sample sets a key (every line must be commented out)');
  });
});
