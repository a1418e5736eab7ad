/**
 * Graceful stop of the S3 HTTP server, so that a load balancer (nginx with keep-alive upstreams)
 * or an SDK never writes a request into a socket the worker is closing.
 *
 * Once draining: every response says `Connection: close` (those whose headers are not out yet
 * included), so each connection closes itself after its current exchange; the listening socket
 * is closed (new connections are refused, which nginx answers by trying another worker), and
 * in-flight requests run to completion. An idle keep-alive connection is closed by the worker
 * only after it has been idle for `idleGraceMs`: a load balancer whose own upstream keep-alive
 * timeout is shorter has closed it by then, so there is no race between its next request and
 * our close. Connections that only carried requests forwarded by peers are closed as soon as
 * they are idle: peers stop routing to a worker that has left the ring.
 */
import net, { type Socket } from 'node:net';
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

interface Conn {
  active: number;
  idleSince: number;
  /** 'peer' once it carried only requests forwarded by peer workers; 'client' once any other. */
  kind: 'new' | 'peer' | 'client';
}

export interface DrainOptions {
  /** Idle keep-alive connections are left for their client to close this long. */
  idleGraceMs: number;
  /** After this, whatever is still open is cut. */
  timeoutMs: number;
}

export class ConnectionDrainer {
  private readonly conns = new Map<Socket, Conn>();
  private readonly responses = new Set<ServerResponse>();
  private state: 'serving' | 'draining' | 'closed' = 'serving';

  constructor(private readonly server: http.Server, private readonly forwardedHeader: string, private readonly now: () => number = Date.now) {
    server.on('connection', (sock: Socket) => {
      this.conns.set(sock, { active: 0, idleSince: this.now(), kind: 'new' });
      sock.once('close', () => this.conns.delete(sock));
    });
    // A request with Expect: 100-continue arrives as 'checkContinue' instead of 'request'.
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.track(req, res);
    // Before the S3 handler, which removes the forwarding marker once it has checked it.
    server.prependListener('request', onRequest);
    server.prependListener('checkContinue', onRequest);
  }

  get draining(): boolean {
    return this.state !== 'serving';
  }

  private track(req: IncomingMessage, res: ServerResponse): void {
    const c = this.conns.get(req.socket);
    if (c) {
      c.active += 1;
      if (req.headers[this.forwardedHeader] === undefined) c.kind = 'client';
      else if (c.kind === 'new') c.kind = 'peer';
    }
    this.responses.add(res);
    res.once('close', () => {
      this.responses.delete(res);
      if (c) {
        c.active -= 1;
        c.idleSince = this.now();
      }
    });
  }

  /** From now on every response closes its connection; still serving, still listening. */
  begin(): void {
    if (this.state !== 'serving') return;
    this.state = 'draining';
    for (const res of this.responses) if (!res.headersSent) res.setHeader('Connection', 'close');
  }

  /**
   * Stops listening and waits until every connection is gone (closing idle ones as described
   * above), or `timeoutMs` passed; then cuts what is left. Resolves when nothing is open.
   */
  async drain(opts: DrainOptions): Promise<{ cut: number }> {
    this.begin();
    if (this.state === 'closed') return { cut: 0 };
    this.state = 'closed';
    // http.Server#close() would also close idle keep-alive connections at once, which is the
    // race this class exists to avoid: stop listening only (net.Server's close).
    if (this.server.listening) net.Server.prototype.close.call(this.server);
    const deadline = this.now() + opts.timeoutMs;
    while (this.conns.size > 0 && this.now() < deadline) {
      for (const [sock, c] of this.conns) {
        if (c.active === 0 && (c.kind === 'peer' || this.now() - c.idleSince >= opts.idleGraceMs)) sock.destroy();
      }
      if (this.conns.size === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cut = this.conns.size;
    for (const sock of this.conns.keys()) sock.destroy();
    return { cut };
  }
}
