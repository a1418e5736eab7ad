/**
 * The coordinator's HTTP surface (express): health and read-only JSON views of the cluster,
 * for operators, load balancers and scripts. Errors are JSON `{error}` with a real status.
 * Mount secrets are always redacted here.
 */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../common/log.js';
import type { ClusterState } from './cluster-state.js';
import { CoordinatorError, HTTP_STATUS } from './errors.js';
import type { Membership } from './membership.js';
import type { MountTable } from './mount-table.js';

export interface RestApiDeps {
  state: ClusterState;
  membership: Membership;
  mounts: MountTable;
}

export function createRestApi(deps: RestApiDeps, log: Logger): express.Express {
  const { state, membership, mounts } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('json spaces', 2);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const reqId = randomUUID();
    res.locals.log = log.child({ req_id: reqId });
    res.setHeader('x-request-id', reqId);
    const started = Date.now();
    res.on('finish', () => {
      (res.locals.log as Logger).debug({ method: req.method, url: req.originalUrl, status: res.statusCode, ms: Date.now() - started }, 'http request');
    });
    next();
  });

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', version: state.clusterVersion });
  });

  app.get('/api/v1/workers', (_req, res) => {
    const { workers, cluster_version } = membership.list();
    res.json({ version: cluster_version, workers });
  });

  app.get('/api/v1/mounts', (_req, res) => {
    res.json({ version: state.clusterVersion, mounts: mounts.list() });
  });

  app.get('/api/v1/cluster', (_req, res) => {
    const { workers, cluster_version } = membership.list();
    res.json({ version: cluster_version, workers, mounts: mounts.list() });
  });

  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: `no such endpoint: ${req.method} ${req.path}` });
  });

  // express 5 forwards rejected promises here as well as thrown errors.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const reqLog = (res.locals.log as Logger | undefined) ?? log;
    let status = 500;
    let message = 'internal error; see the coordinator log';
    if (err instanceof CoordinatorError) {
      status = HTTP_STATUS[err.code];
      message = err.message;
    } else if (typeof (err as { status?: unknown }).status === 'number' && (err as { status: number }).status < 500) {
      status = (err as { status: number }).status;
      message = (err as Error).message;
    }
    if (status >= 500) reqLog.warn({ err, method: req.method, url: req.originalUrl }, 'http request failed');
    else reqLog.info({ method: req.method, url: req.originalUrl, status, reason: message }, 'http request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json({ error: message });
  });

  return app;
}
