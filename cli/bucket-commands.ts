/**
 * `alluxio bucket …`: bucket owners and grants, kept by the coordinator (gRPC) and enforced by
 * workers in the SIGV4 and OIDC modes.
 *   bucket show BUCKET                     owner, anonymous read, grants
 *   bucket grant BUCKET USER read|write    bucket grant BUCKET --anonymous read
 *   bucket revoke BUCKET USER              bucket revoke BUCKET --anonymous
 *   bucket set-owner BUCKET USER
 */
import type { Argv } from 'yargs';
import type { BucketPermissions } from '../proto/index.js';
import { callCoordinator, CliError, configFrom, table, type GlobalArgs } from './common.js';

function render(p: BucketPermissions): string {
  const lines = [
    `bucket:         ${p.bucket}`,
    `owner:          ${p.owner || '(none: grants only)'}`,
    `anonymous read: ${p.anonymous_read ? 'yes' : 'no'}`,
  ];
  const grants = Object.entries(p.grants).sort(([a], [b]) => a.localeCompare(b));
  lines.push(grants.length ? table([['USER', 'PERMISSION'], ...grants.map(([u, g]) => [u, g])]) : 'grants:         (none)');
  return lines.join('\n');
}

type Args = GlobalArgs & { bucket?: string; anonymous?: boolean; json?: boolean };

export function bucketCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command('show <bucket>', 'Show a bucket\'s owner and grants', (a) => a
      .positional('bucket', { type: 'string', demandOption: true })
      .option('json', { type: 'boolean', default: false }), async (args: Args) => {
      const p = await callCoordinator<BucketPermissions>(configFrom(args), 'GetBucketPermissions', { bucket: args.bucket });
      console.log(args.json ? JSON.stringify({ bucket: p.bucket, owner: p.owner, anonymousRead: p.anonymous_read, grants: p.grants }, null, 2) : render(p));
    })
    .command('grant <bucket> <who..>', 'Grant USER read or write (or, with --anonymous, read to everyone)', (a) => a
      .positional('bucket', { type: 'string', demandOption: true })
      .positional('who', { type: 'string', array: true, describe: 'USER read|write, or with --anonymous: read' })
      .option('anonymous', { type: 'boolean', default: false, describe: 'the anonymous read grant' }), async (args: Args & { who?: string[] }) => {
      const who = args.who ?? [];
      let req: object;
      if (args.anonymous) {
        if (who.length !== 1 || who[0] !== 'read') throw new CliError('usage: alluxio bucket grant BUCKET --anonymous read (anonymous users may only read)');
        req = { bucket: args.bucket, anonymous: true, permission: 'read' };
      } else {
        if (who.length !== 2 || (who[1] !== 'read' && who[1] !== 'write')) throw new CliError('usage: alluxio bucket grant BUCKET USER read|write');
        req = { bucket: args.bucket, user: who[0], permission: who[1] };
      }
      const p = await callCoordinator<BucketPermissions>(configFrom(args), 'SetBucketGrant', req);
      console.log(args.anonymous ? `granted anonymous read on ${p.bucket}` : `granted ${who[1]} on ${p.bucket} to ${who[0]}`);
    })
    .command('revoke <bucket> [user]', 'Revoke USER\'s grant (or, with --anonymous, the anonymous read grant)', (a) => a
      .positional('bucket', { type: 'string', demandOption: true })
      .positional('user', { type: 'string' })
      .option('anonymous', { type: 'boolean', default: false }), async (args: Args & { user?: string }) => {
      if (args.anonymous === (args.user !== undefined)) throw new CliError('usage: alluxio bucket revoke BUCKET USER, or alluxio bucket revoke BUCKET --anonymous');
      const p = await callCoordinator<BucketPermissions>(configFrom(args), 'SetBucketGrant', { bucket: args.bucket, user: args.user ?? '', anonymous: args.anonymous, permission: 'none' });
      console.log(args.anonymous ? `revoked anonymous read on ${p.bucket}` : `revoked ${args.user}'s grant on ${p.bucket}`);
    })
    .command('set-owner <bucket> <user>', 'Make USER the owner of BUCKET (grants are kept)', (a) => a
      .positional('bucket', { type: 'string', demandOption: true })
      .positional('user', { type: 'string', demandOption: true }), async (args: Args & { user?: string }) => {
      const p = await callCoordinator<BucketPermissions>(configFrom(args), 'SetBucketOwner', { bucket: args.bucket, owner: args.user });
      console.log(`${p.bucket} is now owned by ${p.owner}`);
    })
    .demandCommand(1, 'name a bucket command: show, grant, revoke or set-owner');
}
