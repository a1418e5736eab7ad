/**
 * `alluxio credentials create|list|delete`: the S3 key pairs of SIGV4 mode, kept in the
 * credentials file (alluxio.worker.s3.credentials.file; format in common/credentials-file.ts).
 * Workers pick changes up on their own; the file stays mode 0600 because it holds secrets.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { CredentialsFileError, credentialLine, generateCredential, isValidUserName, parseCredentials, s3CredentialsFile } from '../common/credentials-file.js';
import { CliError, configFrom, table, type GlobalArgs } from './common.js';

type Args = GlobalArgs & { file?: string };

function fileOf(args: Args): string {
  return args.file ? path.resolve(args.file) : s3CredentialsFile(configFrom(args));
}

async function readFile(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function parse(file: string, text: string): ReturnType<typeof parseCredentials> {
  try {
    return parseCredentials(text);
  } catch (err) {
    if (err instanceof CredentialsFileError) throw new CliError(`${file} is malformed (${err.message}); fix it by hand first`);
    throw err;
  }
}

/** Replaces the file whole (temp file + rename), so a worker never reads half of it. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, text, { mode: 0o600 });
  await fs.rename(tmp, file);
}

export function credentialsCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .option('file', { type: 'string', describe: 'the credentials file (default: alluxio.worker.s3.credentials.file)' })
    .command('create <user>', 'Create a new access key id and secret key for USER and print them (the secret is shown only once)', (a) => a.positional('user', { type: 'string', demandOption: true }), async (args) => {
      const user = String(args.user);
      if (!isValidUserName(user)) throw new CliError(`"${user}" is not a valid user name (1-128 characters of A-Z a-z 0-9 . _ @ + = -)`);
      const file = fileOf(args);
      const text = await readFile(file);
      parse(file, text);
      const cred = generateCredential(user);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await writeAtomically(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${credentialLine(cred)}`);
      console.log(table([['AccessKeyId', cred.accessKeyId], ['SecretAccessKey', cred.secretAccessKey], ['User', cred.user]]));
    })
    .command('list', 'List the access key ids and their users (never the secrets)', (a) => a, async (args) => {
      const file = fileOf(args);
      const creds = [...parse(file, await readFile(file)).values()];
      if (creds.length === 0) {
        console.log(`no credentials in ${file}`);
        return;
      }
      console.log(table([['ACCESS KEY ID', 'USER'], ...creds.map((c) => [c.accessKeyId, c.user])]));
    })
    .command('delete <accessKey>', 'Delete an access key (workers refuse it once they re-read the file)', (a) => a.positional('accessKey', { type: 'string', demandOption: true }), async (args) => {
      const file = fileOf(args);
      const key = String(args.accessKey);
      const text = await readFile(file);
      if (!parse(file, text).has(key)) throw new CliError(`no access key ${key} in ${file}`);
      // Keep comments and every other line as they were.
      const kept = text.split('\n').filter((line) => line.trim().split(/\s+/)[0] !== key || line.trim().startsWith('#'));
      await writeAtomically(file, kept.join('\n'));
      console.log(`deleted access key ${key}`);
    })
    .demandCommand(1, 'name a credentials command: create, list or delete');
}
