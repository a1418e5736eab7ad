/**
 * REST routes for bucket owners and grants, beside the gRPC calls the CLI uses:
 *   GET    /api/v1/buckets/:bucket/permissions
 *   PUT    /api/v1/buckets/:bucket/owner            {"owner": "alice"}
 *   PUT    /api/v1/buckets/:bucket/grants/:user     {"permission": "read" | "write"}
 *   DELETE /api/v1/buckets/:bucket/grants/:user
 *   PUT    /api/v1/buckets/:bucket/anonymous        {"permission": "read"}
 *   DELETE /api/v1/buckets/:bucket/anonymous
 * Errors go to the REST API's one error handler.
 */
import express, { type Request } from 'express';
import type { BucketPermissions } from './bucket-permissions.js';
import { CoordinatorError } from './errors.js';

function field(req: Request, name: string): string {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  if (typeof v !== 'string') throw new CoordinatorError('INVALID_ARGUMENT', `the JSON body needs a string "${name}"`);
  return v;
}

export function permissionsRouter(permissions: BucketPermissions): express.Router {
  const r = express.Router();
  const json = express.json({ limit: '16kb', type: () => true });
  r.get('/api/v1/buckets/:bucket/permissions', async (req, res) => {
    res.json(await permissions.show(req.params.bucket));
  });
  r.put('/api/v1/buckets/:bucket/owner', json, async (req, res) => {
    res.json(await permissions.setOwner({ bucket: req.params.bucket, owner: field(req, 'owner') }));
  });
  r.put('/api/v1/buckets/:bucket/grants/:user', json, async (req, res) => {
    const permission = field(req, 'permission');
    if (permission !== 'read' && permission !== 'write') throw new CoordinatorError('INVALID_ARGUMENT', `permission must be read or write, got "${permission}"`);
    res.json(await permissions.setGrant({ bucket: req.params.bucket, user: req.params.user, permission }));
  });
  r.delete('/api/v1/buckets/:bucket/grants/:user', async (req, res) => {
    res.json(await permissions.setGrant({ bucket: req.params.bucket, user: req.params.user, permission: 'none' }));
  });
  r.put('/api/v1/buckets/:bucket/anonymous', json, async (req, res) => {
    const permission = field(req, 'permission');
    if (permission !== 'read') throw new CoordinatorError('INVALID_ARGUMENT', 'anonymous users may only be granted read');
    res.json(await permissions.setGrant({ bucket: req.params.bucket, anonymous: true, permission }));
  });
  r.delete('/api/v1/buckets/:bucket/anonymous', async (req, res) => {
    res.json(await permissions.setGrant({ bucket: req.params.bucket, anonymous: true, permission: 'none' }));
  });
  return r;
}
