/**
 * Connection and logging keys: alluxio.worker.s3.connection.keep.alive.enabled,
 * alluxio.worker.s3.connection.idle.max.time and alluxio.worker.s3.access.logging.enabled.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/ports.js';

function rawGet(port: number, path: string, agent: http.Agent): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => { res.resume(); res.on('end', () => resolve(res)); });
    req.on('error', reject);
  });
}

describe('keep-alive off, access logging on', () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster({ workers: 1, conf: { 'alluxio.worker.s3.connection.keep.alive.enabled': 'false', 'alluxio.worker.s3.access.logging.enabled': 'true' } });
  });
  after(async () => { await c?.close(); });

  it('every response closes the connection', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const res = await rawGet(c.workers[0].s3Port, '/', agent);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers.connection, 'close');
    agent.destroy();
  });

  it('every request is logged with its request id', async () => {
    const res = await fetch(`${c.endpoint}/`);
    const id = res.headers.get('x-amz-request-id')!;
    await waitFor('the access log line', async () => readFileSync(c.workers[0].p!.logFile, 'utf8').split('\n').some((l) => l.includes(`"req_id":"${id}"`) && l.includes('"msg":"access"') && l.includes('"status":200')));
  });

  it('a malformed aws-chunked body is a 400 and stores nothing', async () => {
    await fetch(`${c.endpoint}/chunky`, { method: 'PUT' });
    const sock = net.connect(c.workers[0].s3Port, '127.0.0.1');
    const body = 'zz-not-hex\r\nabc\r\n0\r\n\r\n';
    sock.write(`PUT /chunky/obj HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Encoding: aws-chunked\r\nx-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\r\nx-amz-decoded-content-length: 3\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    const reply = await new Promise<string>((resolve) => { let s = ''; sock.on('data', (d) => { s += d.toString(); }); sock.on('close', () => resolve(s)); });
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.match(reply, /<Code>IncompleteBody<\/Code>/);
    assert.equal((await fetch(`${c.endpoint}/chunky/obj`, { method: 'HEAD' })).status, 404);
  });
});

describe('keep-alive on with an idle limit', () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster({ workers: 1, conf: { 'alluxio.worker.s3.connection.idle.max.time': '300ms' } });
  });
  after(async () => { await c?.close(); });

  it('reuses a connection, and closes it after the idle time', async () => {
    const sock = net.connect(c.workers[0].s3Port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let data = '';
    sock.on('data', (d) => { data += d.toString(); });
    const closed = new Promise<number>((resolve) => sock.on('close', () => resolve(Date.now())));
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('first answer', async () => data.includes('</ListAllMyBucketsResult>'));
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('second answer on the same connection', async () => data.split('</ListAllMyBucketsResult>').length === 3);
    const idleFrom = Date.now();
    const at = await closed;
    assert.ok(at - idleFrom < 5000, 'the idle connection was closed by the server');
  });
});
