/**
 * `alluxio fs ls|stat|cat PATH`: the namespace through a worker's S3 API (any live worker, or
 * --endpoint), the same view every S3 client gets.
 */
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Argv } from 'yargs';
import { XMLParser } from 'fast-xml-parser';
import { OperationsService, type FreeResponse, type ListWorkersResponse } from '../proto/index.js';
import { callCoordinator, CliError, configFrom, formatBytes, table, type GlobalArgs } from './common.js';

type FsArgs = GlobalArgs & { endpoint?: string; path: string };

const xml = new XMLParser({ parseTagValue: false, isArray: (n) => n === 'Contents' || n === 'CommonPrefixes' || n === 'Bucket' });

async function endpoint(args: FsArgs): Promise<URL> {
  if (args.endpoint) return new URL(args.endpoint);
  const res = await callCoordinator<ListWorkersResponse>(configFrom(args), 'ListWorkers', {});
  const w = res.workers.find((x) => x.state === 'LIVE');
  if (!w) throw new CliError('no live worker to serve the request');
  return new URL(`http://${w.address.host}:${w.address.s3_port}`);
}

function splitNsPath(p: string): { bucket: string; key: string } {
  if (!p.startsWith('/')) throw new CliError(`paths start with /, e.g. /bucket/key (got "${p}")`);
  const rest = p.slice(1);
  const slash = rest.indexOf('/');
  return slash < 0 ? { bucket: rest, key: '' } : { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

function encodeKey(k: string): string {
  return k.split('/').map(encodeURIComponent).join('/');
}

function request(base: URL, method: string, path: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: base.hostname, port: base.port, method, path }, resolve);
    req.on('error', (err) => reject(new CliError(`cannot reach ${base.origin}: ${err.message}`)));
    req.end();
  });
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function failure(res: http.IncomingMessage, what: string): Promise<CliError> {
  const body = await readAll(res);
  const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? `HTTP ${res.statusCode}`;
  const msg = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
  return new CliError(`${what}: ${code}${msg ? ` (${msg})` : ''}`);
}

async function ls(args: FsArgs): Promise<void> {
  const base = await endpoint(args);
  const { bucket, key } = splitNsPath(args.path);
  if (bucket === '') {
    const res = await request(base, 'GET', '/');
    if (res.statusCode !== 200) throw await failure(res, 'ls /');
    const doc = xml.parse(await readAll(res));
    const buckets = doc.ListAllMyBucketsResult?.Buckets?.Bucket ?? [];
    for (const b of buckets) console.log(`${b.CreationDate}  /${b.Name}`);
    return;
  }
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  const rows: string[][] = [];
  let token: string | undefined;
  do {
    const q = new URLSearchParams({ 'list-type': '2', delimiter: '/', prefix });
    if (token) q.set('continuation-token', token);
    const res = await request(base, 'GET', `/${encodeURIComponent(bucket)}?${q}`);
    if (res.statusCode !== 200) throw await failure(res, `ls ${args.path}`);
    const doc = xml.parse(await readAll(res)).ListBucketResult;
    for (const p of doc.CommonPrefixes ?? []) rows.push(['DIR', '', '', '', `/${bucket}/${p.Prefix}`]);
    for (const c of doc.Contents ?? []) {
      if (c.Key === prefix) continue;
      // The persistence state (write cache): PERSISTED, NOT_PERSISTED or TO_BE_PERSISTED.
      const head = await request(base, 'HEAD', `/${encodeURIComponent(bucket)}/${encodeKey(c.Key)}`);
      head.resume();
      const state = String(head.headers['x-alluxio-persistence-state'] ?? 'PERSISTED');
      rows.push(['FILE', formatBytes(Number(c.Size)), c.LastModified, state, `/${bucket}/${c.Key}`]);
    }
    token = doc.IsTruncated === 'true' ? doc.NextContinuationToken : undefined;
  } while (token);
  if (rows.length === 0 && key !== '') {
    // Not a directory: maybe an object.
    await stat({ ...args });
    return;
  }
  if (rows.length) console.log(table(rows));
}

async function stat(args: FsArgs): Promise<void> {
  const base = await endpoint(args);
  const { bucket, key } = splitNsPath(args.path);
  if (key === '') {
    const res = await request(base, 'HEAD', `/${encodeURIComponent(bucket)}`);
    res.resume();
    if (res.statusCode !== 200) throw new CliError(`stat ${args.path}: ${res.statusCode === 404 ? 'no such bucket' : `HTTP ${res.statusCode}`}`);
    console.log(JSON.stringify({ path: args.path, type: 'bucket', region: res.headers['x-amz-bucket-region'] }, null, 2));
    return;
  }
  const res = await request(base, 'HEAD', `/${encodeURIComponent(bucket)}/${encodeKey(key)}`);
  res.resume();
  if (res.statusCode !== 200) throw new CliError(`stat ${args.path}: ${res.statusCode === 404 ? 'no such object' : `HTTP ${res.statusCode}`}`);
  const meta = Object.fromEntries(Object.entries(res.headers).filter(([k]) => k.startsWith('x-amz-meta-')));
  console.log(JSON.stringify({
    path: args.path,
    type: key.endsWith('/') ? 'directory' : 'file',
    size: Number(res.headers['content-length']),
    etag: res.headers.etag,
    lastModified: res.headers['last-modified'],
    contentType: res.headers['content-type'],
    persistenceState: res.headers['x-alluxio-persistence-state'] ?? 'PERSISTED',
    metadata: meta,
  }, null, 2));
}

async function cat(args: FsArgs): Promise<void> {
  const base = await endpoint(args);
  const { bucket, key } = splitNsPath(args.path);
  if (key === '') throw new CliError(`cat needs an object path, got the bucket ${args.path}`);
  const res = await request(base, 'GET', `/${encodeURIComponent(bucket)}/${encodeKey(key)}`);
  if (res.statusCode !== 200) throw await failure(res, `cat ${args.path}`);
  await pipeline(res, process.stdout);
}

/** Drops the cached pages under a path on every worker; unpersisted write-cache data stays. */
async function free(args: FsArgs & { json?: boolean }): Promise<void> {
  const r = await callCoordinator<FreeResponse>(configFrom(args), 'FreePath', { path: args.path }, OperationsService);
  if (args.json) {
    console.log(JSON.stringify(r, null, 2));
  } else {
    console.log(`Freed ${args.path}: ${r.objects} cached object${Number(r.objects) === 1 ? '' : 's'} (${r.pages} pages, ${formatBytes(Number(r.bytes))}) on ${r.workers.length} worker${r.workers.length === 1 ? '' : 's'}`);
    if (Number(r.unpersisted_skipped) > 0) console.log(`Skipped ${r.unpersisted_skipped} unpersisted object${Number(r.unpersisted_skipped) === 1 ? '' : 's'} (write cache): never freed before they are persisted`);
  }
  if (r.unreachable.length) throw new CliError(`could not free on ${r.unreachable.join(', ')}`);
}

export function fsCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  const withPath = (a: Argv<GlobalArgs>) => a
    .positional('path', { type: 'string', demandOption: true, describe: '/bucket/key' })
    .option('endpoint', { type: 'string', describe: 'S3 endpoint of a worker (default: any live worker)' });
  return y
    .command('ls <path>', 'List a bucket or directory (/ lists buckets)', withPath, (args) => ls(args as FsArgs))
    .command('stat <path>', 'Show an object\'s metadata', withPath, (args) => stat(args as FsArgs))
    .command('cat <path>', 'Write an object\'s bytes to stdout', withPath, (args) => cat(args as FsArgs))
    .command('free <path>', 'Evict the cached pages of every object under a path (/bucket/dir) on every worker; unpersisted data is kept', (a) => a
      .positional('path', { type: 'string', demandOption: true, describe: '/bucket, /bucket/dir or s3://bucket/dir' })
      .option('json', { type: 'boolean', default: false }), (args) => free(args as FsArgs & { json?: boolean }))
    .demandCommand(1, 'name an fs command: ls, stat, cat or free');
}
