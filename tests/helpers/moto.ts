/**
 * A real moto S3 server for tests, on a free loopback port. A missing `moto_server` is an
 * error, never a skip: a suite that silently skips its S3 half proves nothing.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, waitFor } from './ports.js';

export interface Moto {
  endpoint: string;
  port: number;
  /**
   * Every request moto logged, as "METHOD /path?query" in arrival order (from its own access
   * log): what reached the store, counted outside the code under test.
   */
  requests: string[];
  close(): Promise<void>;
}

/** With `port`, on that port (to bring a stopped store back where its clients expect it). */
export async function startMoto(opts: { port?: number } = {}): Promise<Moto> {
  const port = opts.port ?? await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  // moto logs every request on stderr: keep draining it (a full pipe would stall the server)
  // and remember the tail to explain a failed start.
  let tail = '';
  let dead = false;
  const requests: string[] = [];
  let partial = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-2000);
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    // werkzeug: 127.0.0.1 - - [date] "GET /bucket/key HTTP/1.1" 200 -
    for (const line of lines) {
      const m = /"([A-Z]+) (\S+) HTTP\/[\d.]+"/.exec(line);
      if (m) requests.push(`${m[1]} ${m[2]}`);
    }
  });

  const died = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT'
      ? new Error("moto_server is not on PATH: install it with pip install 'moto[server]'")
      : new Error(`cannot start moto_server: ${err.message}`)));
    child.once('exit', (code, signal) => reject(new Error(`moto_server exited (${signal ?? code}) before answering: ${tail.trim()}`)));
  });
  died.catch(() => { dead = true; });

  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await Promise.race([
      died,
      // Once the server died the race is lost anyway; `dead` just stops the polling.
      waitFor(`moto_server at ${endpoint}`, async () => dead || (await fetch(endpoint)).ok, 30_000),
    ]);
  } catch (err) {
    await close();
    throw err;
  }
  return { endpoint, port, requests, close };
}

/** Creates a bucket with the plain SDK, as a user of the store would. */
export async function createMotoBucket(endpoint: string, name: string): Promise<void> {
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}
