/**
 * The coordinator's HTTP surface (express): health and read-only JSON views of the cluster,
 * and the path-level write policies (read, replace, resolve), for operators, load balancers
 * and scripts. Errors are JSON `{error}` with a real status.
 * Mount secrets are always redacted here.
 */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../common/log.js';
import type { ClusterState } from './cluster-state.js';
import { CoordinatorError, HTTP_STATUS } from './errors.js';
import type { Membership } from './membership.js';
import type { MountTable } from './mount-table.js';
import { PathConfigStore } from './path-config-store.js';
import type { BucketPermissions } from './bucket-permissions.js';
import { permissionsRouter } from './rest-permissions.js';

export interface RestApiDeps {
  state: ClusterState;
  membership: Membership;
  mounts: MountTable;
  /** Defaults to a store over `state` (it keeps nothing of its own). */
  pathConfig?: PathConfigStore;
  /** The write cache's true persistence state, read from the metastore. */
  persistence?: () => Promise<object>;
  /** Bucket owners and grants (routes in rest-permissions.ts). */
  permissions?: BucketPermissions;
  /** More routes served before the 404 (the status page, /api/v1/status, /metrics). */
  extraRoutes?: express.Router;
  /** Load jobs (GET /api/v1/jobs, /api/v1/jobs/:id). */
  jobs?: { list(): object[]; get(ref: { id: string }): object };
}

const PATH_CONFIG_VERSION_HEADER = 'X-Alluxio-Path-Config-Version';

/** `If-Match: "7"` (or `7`) → 7; absent or `*` → undefined. */
function expectedVersion(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(ifMatch);
  if (!m) throw new CoordinatorError('INVALID_ARGUMENT', `If-Match must be the ETag of GET /api/v1/pathconfig (a version like "3"), got ${ifMatch}`);
  return Number(m[1]);
}

export function createRestApi(deps: RestApiDeps, log: Logger): express.Express {
  const { state, membership, mounts } = deps;
  const pathConfig = deps.pathConfig ?? new PathConfigStore(state, log.child({ component: 'path-config' }));
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

  const sendPathConfig = (res: Response): void => {
    const { json, version } = pathConfig.get();
    res.set('ETag', `"${version}"`).set(PATH_CONFIG_VERSION_HEADER, String(version)).type('application/json').send(json);
  };

  app.get('/api/v1/pathconfig', (_req, res) => sendPathConfig(res));

  app.get('/api/v1/persistence', async (_req, res, next) => {
    if (!deps.persistence) return void res.status(404).json({ error: 'the write cache metastore is not served here' });
    try {
      res.json(await deps.persistence());
    } catch (err) {
      next(err);
    }
  });

  app.get('/api/v1/jobs', (_req, res) => {
    res.json({ jobs: deps.jobs?.list() ?? [] });
  });

  app.get('/api/v1/jobs/:id', (req, res) => {
    if (!deps.jobs) throw new CoordinatorError('NOT_FOUND', `no job ${req.params.id}`);
    res.json(deps.jobs.get({ id: req.params.id }));
  });

  // The body is the document whatever its content type: parsed here, so errors name the position.
  app.put('/api/v1/pathconfig', express.text({ type: () => true, limit: '1mb' }), async (req, res) => {
    const text = typeof req.body === 'string' ? req.body : '';
    await pathConfig.set(text, { expectedVersion: expectedVersion(req.get('if-match')) });
    sendPathConfig(res);
  });

  app.get('/api/v1/pathconfig/resolve', (req, res) => {
    const p = req.query.path;
    if (typeof p !== 'string' || p === '') throw new CoordinatorError('INVALID_ARGUMENT', 'the query parameter path is required, e.g. ?path=/ckpt/model.bin');
    const resolved = pathConfig.resolve(p);
    res.set(PATH_CONFIG_VERSION_HEADER, String(pathConfig.get().version)).json(resolved);
  });

  if (deps.permissions) app.use(permissionsRouter(deps.permissions));
  if (deps.extraRoutes) app.use(deps.extraRoutes);

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
