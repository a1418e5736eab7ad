/**
 * The safety net behind every S3 handler (worker/s3/limits.ts answerIfSilent): a request whose
 * handler settled without answering gets 500 InternalError (logged with its request id), or a
 * broken connection when part of an answer was already sent. A real HTTP server on loopback.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../common/log.js';
import { answerIfSilent } from '../../worker/s3/limits.js';
import { sendError } from '../../worker/s3/respond.js';

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void, fn: (url: string) => Promise<void>): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

function capture(): { log: ReturnType<typeof createLogger>; lines: { msg: string; level: number; req_id?: string }[] } {
  const lines: { msg: string; level: number; req_id?: string }[] = [];
  const log = createLogger('net-test', 'info', new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  }));
  return { log, lines };
}

describe('answerIfSilent', () => {
  it('a handler that settles without answering: 500 InternalError, logged with the request id', async () => {
    const { log, lines } = capture();
    await serve((req, res) => {
      const reqLog = log.child({ req_id: 'REQ1' });
      answerIfSilent(res, reqLog, (err) => sendError(req, res, err, '/b/k', 'REQ1', reqLog), 'GetObject');
    }, async (url) => {
      const r = await fetch(`${url}/b/k`);
      assert.equal(r.status, 500);
      assert.match(await r.text(), /<Code>InternalError<\/Code>.*<RequestId>REQ1<\/RequestId>/s);
    });
    assert.ok(lines.some((l) => l.level >= 50 && l.req_id === 'REQ1' && /without answering/.test(l.msg)), JSON.stringify(lines));
  });

  it('part of an answer sent: the connection is broken, never ended quietly', async () => {
    const { log } = capture();
    await serve((req, res) => {
      res.writeHead(200, { 'Content-Length': 100 });
      res.write('partial');
      answerIfSilent(res, log, (err) => sendError(req, res, err, '/b/k', 'REQ2', log), 'GetObject');
    }, async (url) => {
      // Whether the headers got out first or not, the client sees a failure, never a short body.
      await assert.rejects(async () => { await (await fetch(`${url}/b/k`)).text(); });
    });
  });

  it('an answered request is left alone', async () => {
    const { log, lines } = capture();
    await serve((req, res) => {
      res.end('fine');
      answerIfSilent(res, log, (err) => sendError(req, res, err, '/b/k', 'REQ3', log), 'GetObject');
    }, async (url) => {
      const r = await fetch(`${url}/b/k`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'fine');
    });
    assert.equal(lines.length, 0);
  });
});
