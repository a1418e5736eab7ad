/**
 * The credentials table of SIGV4 mode, read from alluxio.worker.s3.credentials.file and
 * re-read when the file's mtime, size or inode changes (polled: fs.watch misses editors that
 * replace the file and is unreliable on network file systems). A reload that fails to parse
 * keeps the previous table and logs why, so one bad edit never locks every user out. Secrets
 * stay in memory; only access key ids and counts are logged.
 */
import { promises as fs, type Stats } from 'node:fs';
import type { Logger } from '../../common/log.js';
import { parseCredentials, type Credential } from '../../common/credentials-file.js';

export interface CredentialLookup {
  lookup(accessKeyId: string): Credential | undefined;
}

export class CredentialStore implements CredentialLookup {
  private table: ReadonlyMap<string, Credential> = new Map();
  private stamp = '';
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;

  constructor(private readonly file: string, private readonly pollMs: number, private readonly log: Logger) {}

  lookup(accessKeyId: string): Credential | undefined {
    return this.table.get(accessKeyId);
  }

  get size(): number {
    return this.table.size;
  }

  /** Loads the file once (a missing file is an empty table: every signed request is refused) and starts polling. */
  async start(): Promise<void> {
    await this.reload();
    if (this.pollMs > 0) {
      this.timer = setInterval(() => void this.reload(), this.pollMs);
      this.timer.unref();
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads the file if it changed since the last successful or failed read. */
  reload(): Promise<void> {
    this.reloading ??= this.doReload().finally(() => { this.reloading = undefined; });
    return this.reloading;
  }

  private async doReload(): Promise<void> {
    let st: Stats;
    try {
      st = await fs.stat(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.warn({ file: this.file, err: (err as Error).message }, 'cannot stat the S3 credentials file; keeping the current table');
        return;
      }
      if (this.stamp !== 'missing') {
        this.log.warn({ file: this.file }, 'the S3 credentials file does not exist; no access key is accepted');
        this.table = new Map();
        this.stamp = 'missing';
      }
      return;
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      const table = parseCredentials(await fs.readFile(this.file, 'utf8'));
      this.table = table;
      this.log.info({ file: this.file, keys: table.size }, 'loaded the S3 credentials file');
    } catch (err) {
      this.log.error({ file: this.file, err: (err as Error).message, keys: this.table.size }, 'the S3 credentials file is malformed; keeping the previous table');
    }
  }
}
