import net from 'node:net';

/**
 * Ports this test process has handed out. The kernel may give the same ephemeral port to two
 * bind(0) calls in a row once the first is closed, and a cluster allocates all its ports before
 * any process binds them; a port is never handed out twice by one test process.
 */
const handedOut = new Set<number>();

/** A port that was free on 127.0.0.1 a moment ago (bind to 0, read, close), never handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await probePort();
    if (!handedOut.has(port) || attempt >= 50) {
      handedOut.add(port);
      return port;
    }
  }
}

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it resolves truthy or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
