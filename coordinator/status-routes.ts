/**
 * The coordinator's observability endpoints, mounted into its HTTP API (rest-api.ts):
 * `GET /` and `/status` (the live status page), `GET /api/v1/status` (the JSON it polls) and
 * `GET /metrics` (Prometheus text format).
 */
import express from 'express';
import type { CoordinatorMetrics } from './metrics.js';
import { STATUS_PAGE_HTML } from './status-page.js';
import type { StatusView } from './status.js';

export function statusRoutes(view: StatusView, metrics: CoordinatorMetrics): express.Router {
  const router = express.Router();
  const page = (_req: express.Request, res: express.Response): void => {
    res.set('Cache-Control', 'no-store').type('html').send(STATUS_PAGE_HTML);
  };
  router.get('/', page);
  router.get('/status', page);
  router.get('/api/v1/status', async (_req, res) => {
    res.set('Cache-Control', 'no-store').json(await view.status());
  });
  router.get('/metrics', async (_req, res) => {
    const { contentType, body } = await metrics.render();
    res.set('Content-Type', contentType).send(body);
  });
  return router;
}
