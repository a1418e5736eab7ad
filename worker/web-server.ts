/**
 * The worker's web port (`alluxio.worker.web.port`, Alluxio's 30000): `/metrics` (Prometheus
 * text format) and `/health` for scrapers and probes. It is a port of its own because on the
 * S3 port `/metrics` is the listing of a bucket named "metrics".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../common/log.js';
import type { WorkerMetrics } from './metrics.js';

export interface WorkerWebOptions {
  metrics: WorkerMetrics;
  /** The body of /health; `ready` false answers 503. */
  health: () => { ready: boolean } & Record<string, unknown>;
  log: Logger;
}

export class WorkerWebServer {
  private readonly server: http.Server;

  constructor(private readonly opts: WorkerWebOptions) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`cannot bind the worker web port at ${host}:${port}: ${err.message}`, { cause: err }));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      // Scrapers keep connections alive; they would hold close() open.
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: `${req.method} is not allowed here` }));
        return;
      }
      if (path === '/metrics') {
        const { contentType, body } = await this.opts.metrics.render();
        res.writeHead(200, { 'Content-Type': contentType });
        res.end(body);
        return;
      }
      if (path === '/health') {
        const h = this.opts.health();
        res.writeHead(h.ready ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(h));
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: `no such endpoint: ${path} (try /metrics or /health)` }));
    } catch (err) {
      this.opts.log.warn({ err, url: req.url }, 'web request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error; see the worker log' }));
    }
  }
}
