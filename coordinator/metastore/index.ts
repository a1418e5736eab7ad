/**
 * The coordinator's metastore: FoundationDB when `alluxio.foundationdb.cluster.file.path` is
 * set, else the embedded SQLite store in the coordinator's data directory. Served to workers
 * by `metastoreServiceImpl` (grpc-service.ts).
 */
import type { Config } from '../../common/config/config.js';
import type { Logger } from '../../common/log.js';
import type { MetastoreBackend } from './backend.js';
import { openFdbMetastore } from './fdb-store.js';
import { SqliteMetastore } from './sqlite-store.js';

export async function openMetastore(config: Config, dir: string, log: Logger): Promise<MetastoreBackend> {
  const clusterFile = config.path('alluxio.foundationdb.cluster.file.path', () => '');
  if (clusterFile !== '') return openFdbMetastore(clusterFile, { log });
  return SqliteMetastore.open(dir, { log });
}

export { MAX_COMMIT_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES } from './backend.js';
export type { CommitRequest, CommitResult, KeyRange, MetastoreBackend, Mutation } from './backend.js';
export { FdbMetastore, openFdbMetastore } from './fdb-store.js';
export { METASTORE_GRPC_SERVER_OPTIONS, metastoreService, metastoreServiceImpl, MetastoreService } from './grpc-service.js';
export { METASTORE_DB_FILE, SqliteMetastore, type SqliteMetastoreOptions } from './sqlite-store.js';
