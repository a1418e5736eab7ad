/**
 * The one registry of property keys. Every process parses its configuration against this
 * table; `alluxio conf get` and the docs read the same table. Names and defaults come from
 * Alluxio's documentation (shared/seeds) wherever it gives them.
 */

export type PropertyType = 'string' | 'int' | 'double' | 'bool' | 'bytes' | 'duration' | 'enum';

export interface PropertyKey {
  readonly name: string;
  readonly type: PropertyType;
  /** The default in the same textual form a user writes in alluxio-site.properties. */
  readonly default: string;
  readonly description: string;
  readonly values?: readonly string[];
  /** Shown redacted by `conf get` and never logged. */
  readonly secret?: boolean;
  /** Older names users may still have in their site file (Alluxio 2.x proxy keys). */
  readonly aliases?: readonly string[];
}

const keys: PropertyKey[] = [
  // ---- process layout ----
  { name: 'alluxio.home', type: 'string', default: '.', description: 'Directory relative paths in other keys are resolved against.' },
  { name: 'alluxio.data.dir', type: 'string', default: 'data', description: 'Root of local state: the coordinator state, caches and the default root UFS live below it.' },
  { name: 'alluxio.log.level', type: 'enum', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], description: 'bunyan log level of every process.' },

  // ---- coordinator ----
  { name: 'alluxio.coordinator.hostname', type: 'string', default: '127.0.0.1', description: 'Address the coordinator binds and workers dial.' },
  { name: 'alluxio.coordinator.rpc.port', type: 'int', default: '19998', description: 'Coordinator gRPC port (membership, mount table).' },
  { name: 'alluxio.coordinator.web.port', type: 'int', default: '19999', description: 'Coordinator HTTP port (health, REST API, JSON views).' },
  { name: 'alluxio.coordinator.data.dir', type: 'string', default: '', description: 'Where the coordinator keeps its state; empty means <alluxio.data.dir>/coordinator.' },
  { name: 'alluxio.coordinator.worker.timeout', type: 'duration', default: '10sec', description: 'A worker not heard from for this long is marked LOST and leaves the ring.' },
  { name: 'alluxio.coordinator.lost.worker.detection.interval', type: 'duration', default: '1sec', description: 'How often the coordinator looks for lost workers.' },
  { name: 'alluxio.coordinator.membership.batch.window', type: 'duration', default: '50ms', description: 'Rapid membership changes within this window are pushed to workers as one snapshot.' },

  // ---- root mount ----
  { name: 'alluxio.master.mount.table.root.ufs', type: 'string', default: '', description: 'UFS of the namespace root (/); a directory path, file:// or s3:// URI. Empty means <alluxio.data.dir>/ufs.' },
  { name: 'alluxio.master.mount.table.root.readonly', type: 'bool', default: 'false', description: 'Mount the root UFS read-only.' },

  // ---- worker identity and ports ----
  { name: 'alluxio.worker.hostname', type: 'string', default: '127.0.0.1', description: 'Address the worker binds and advertises to peers and redirected clients.' },
  { name: 'alluxio.worker.s3.port', type: 'int', default: '29998', description: 'S3 REST API port (HTTP).' },
  { name: 'alluxio.worker.s3.https.port', type: 'int', default: '29996', description: 'S3 REST API port (HTTPS, when TLS is configured).' },
  { name: 'alluxio.worker.rpc.port', type: 'int', default: '29999', description: 'Peer gRPC port (health checks; replication with the write cache).' },
  { name: 'alluxio.worker.id', type: 'string', default: '', description: 'Stable worker identity; empty means generated once and kept in the cache directory.' },
  { name: 'alluxio.worker.master.heartbeat.interval', type: 'duration', default: '1sec', description: 'How often a worker heartbeats to the coordinator.' },

  // ---- S3 API ----
  { name: 'alluxio.worker.s3.api.enabled', type: 'bool', default: 'true', description: 'Serve the S3 REST API on the worker.' },
  { name: 'alluxio.worker.s3.redirect.enabled', type: 'bool', default: 'false', description: 'Answer a GET/HEAD for a path another worker owns with 307 to the owner. Off by default (unlike Alluxio): the AWS CLI, boto3, the JS SDK and minio-js do not follow a 307 to another host:port, so the receiving worker proxies instead.' },
  { name: 'alluxio.worker.s3.redirect.health.check.enabled', type: 'bool', default: 'true', description: 'Check the owner is alive (peer gRPC ping) before redirecting to it.' },
  { name: 'alluxio.worker.s3.connection.keep.alive.enabled', type: 'bool', default: 'true', description: 'Reuse client TCP connections across requests. Alluxio defaults to false and recommends true; we default to the recommendation because no S3 client breaks on keep-alive and every one is faster with it.' },
  { name: 'alluxio.worker.s3.connection.idle.max.time', type: 'duration', default: '0sec', description: 'Idle keep-alive connections are closed after this long; 0 means never.' },
  { name: 'alluxio.worker.s3.access.logging.enabled', type: 'bool', default: 'false', description: 'Log every S3 request; when false only failed requests are logged.' },
  { name: 'alluxio.worker.s3.only.https.access', type: 'bool', default: 'false', description: 'Refuse plain-HTTP S3 requests.' },
  { name: 'alluxio.worker.s3.region', type: 'string', default: 'us-east-1', description: 'Region reported by GetBucketLocation and x-amz-bucket-region.' },
  { name: 'alluxio.worker.s3.proxy.timeout', type: 'duration', default: '5sec', description: 'How long a worker waits to connect to the owner when proxying before serving the request itself.' },
  { name: 'alluxio.worker.s3.virtual.host.domains', type: 'string', default: '', description: 'Comma-separated domains under which virtual-hosted-style requests are served (Host: <bucket>.<domain>); empty serves path-style only. Path-style is always served.' },
  { name: 'alluxio.worker.s3.tagging.restrictions.enabled', type: 'bool', default: 'true', aliases: ['alluxio.proxy.s3.tagging.restrictions.enabled'], description: 'Enforce the S3 tag rules: at most 10 tags, keys up to 128 and values up to 256 characters (InvalidTag).' },
  { name: 'alluxio.proxy.s3.complete.multipart.upload.keepalive.enabled', type: 'bool', default: 'false', description: 'Send whitespace while a CompleteMultipartUpload is being committed so clients and proxies do not time out; errors then arrive as an <Error> body after a 200.' },
  { name: 'alluxio.proxy.s3.complete.multipart.upload.keepalive.time.interval', type: 'duration', default: '30sec', description: 'Longest gap between keepalive whitespace during CompleteMultipartUpload (starts at 1 s, doubling).' },
  { name: 'alluxio.proxy.s3.multipart.upload.cleaner.enabled', type: 'bool', default: 'true', description: 'Abort multipart uploads that have seen no activity for the cleaner timeout.' },
  { name: 'alluxio.proxy.s3.multipart.upload.cleaner.timeout', type: 'duration', default: '10min', description: 'A multipart upload with no part uploaded for this long is aborted by the cleaner.' },
  { name: 'alluxio.proxy.s3.multipart.upload.cleaner.retry.count', type: 'int', default: '3', description: 'Attempts the cleaner makes to abort one upload.' },
  { name: 'alluxio.proxy.s3.multipart.upload.cleaner.retry.delay', type: 'duration', default: '10sec', description: 'Delay between the cleaner\'s attempts.' },
  { name: 'alluxio.proxy.s3.multipart.upload.cleaner.pool.size', type: 'int', default: '1', description: 'Uploads the cleaner aborts at the same time.' },
  { name: 'alluxio.proxy.s3.bucket.naming.restrictions.enabled', type: 'bool', default: 'false', description: 'Enforce the AWS bucket naming rules on CreateBucket (Alluxio default false). Names that cannot be a directory are refused either way.' },
  { name: 'alluxio.proxy.s3.complete.multipart.upload.min.part.size', type: 'bytes', default: '5MB', description: 'Minimum size of every part but the last of a multipart upload (EntityTooSmall below it); 0 disables the check.' },
  { name: 'alluxio.worker.s3.header.metadata.max.size', type: 'bytes', default: '2KB', aliases: ['alluxio.proxy.s3.header.metadata.max.size'], description: 'Maximum size of user metadata (x-amz-meta-*) on a PUT; 0 disables the limit.' },

  // ---- graceful stop (rolling restarts behind a load balancer) ----
  { name: 'alluxio.worker.shutdown.ring.wait.timeout', type: 'duration', default: '5sec', description: 'On SIGTERM a worker leaves the ring and waits up to this long for its peers to have the ring without it (so none forwards to it any more) before it stops listening.' },
  { name: 'alluxio.worker.s3.shutdown.idle.grace', type: 'duration', default: '5sec', description: 'While a stopping worker drains, an idle keep-alive connection from a client is left this long for the client to close it. Keep it above the load balancer\'s upstream keep-alive timeout (deploy/nginx.conf: keepalive_timeout 3s), so the balancer never sends a request into a connection the worker is closing.' },
  { name: 'alluxio.worker.s3.shutdown.drain.timeout', type: 'duration', default: '30sec', description: 'The longest a stopping worker waits for in-flight S3 requests to finish; connections still open then are cut.' },

  // ---- page cache ----
  { name: 'alluxio.worker.page.store.dirs', type: 'string', default: '', description: 'Cache directory of this worker; empty means <alluxio.data.dir>/cache/<worker id>.' },
  { name: 'alluxio.worker.page.store.sizes', type: 'bytes', default: '1GB', description: 'Capacity of the page store; least-recently-used pages are evicted beyond it.' },
  { name: 'alluxio.worker.page.store.memory.size', type: 'bytes', default: '64MB', description: 'The most recently read cached pages are also kept in memory, up to this many bytes: a hot page is served without touching the disk. 0 serves every hit from disk.' },
  { name: 'alluxio.worker.page.store.page.size', type: 'bytes', default: '1MB', description: 'Cache granularity: the UFS is read and cached in pages of this size.' },
  { name: 'alluxio.user.file.metadata.sync.interval', type: 'duration', default: '10sec', description: 'How long object metadata read from the UFS is trusted before it is checked again; an object changed in the UFS behind our back is served stale at most this long. 0 checks on every request.' },

  // ---- write cache (seed 004) ----
  { name: 'alluxio.write.cache.enabled', type: 'bool', default: 'false', description: 'Turn the write cache on: path-level write policies (WRITE_THROUGH, WRITE_BACK, TRANSIENT, READ_ONLY, NO_CACHE), replicas of unpersisted data, asynchronous persistence.' },
  { name: 'alluxio.foundationdb.cluster.file.path', type: 'string', default: '', description: 'A FoundationDB cluster file: when set, the metastore is FoundationDB; empty means the embedded metastore (SQLite in the coordinator\'s data dir).' },
  { name: 'alluxio.write.cache.async.persist.thread.pool.size', type: 'int', default: '32', description: 'Objects each worker persists to the UFS at the same time (each upload mostly waits on the UFS and the disk, so many run at once).' },
  { name: 'alluxio.worker.write.cache.async.persist.retry.initial.interval', type: 'duration', default: '1s', description: 'First wait before retrying a failed persistence (doubling after each failure).' },
  { name: 'alluxio.worker.write.cache.async.persist.retry.max.interval', type: 'duration', default: '1h', description: 'Longest wait between persistence retries.' },
  { name: 'alluxio.worker.page.store.pinned.file.capacity.limit.ratio', type: 'double', default: '0.3', description: 'Largest fraction of the cache capacity unpersisted (pinned) data may take; past it writes get 503 SlowDown with Retry-After.' },
  { name: 'alluxio.write.cache.async.check.orphan.timeout', type: 'duration', default: '1h', description: 'Uncommitted writes older than this are treated as abandoned and cleaned up.' },
  { name: 'alluxio.write.cache.async.file.check.period', type: 'duration', default: '10min', description: 'How often workers look for orphaned and dangling writes.' },
  { name: 'alluxio.worker.mark.writing.files.duration', type: 'duration', default: '10min', description: 'A write that receives no data for this long is a dangling write, eligible for cleanup (the timer resets on every write).' },

  // ---- UFS (defaults for every S3 mount; mount options override) ----
  { name: 'aws.accessKeyId', type: 'string', default: '', description: 'Default S3 UFS access key (mount options take precedence; then AWS_ACCESS_KEY_ID, ~/.aws/credentials).', secret: true },
  { name: 'aws.secretKey', type: 'string', default: '', description: 'Default S3 UFS secret key.', secret: true },
  { name: 'alluxio.underfs.s3.endpoint', type: 'string', default: '', description: 'Default S3 UFS endpoint (http://host:port) for non-AWS stores.' },
  { name: 'alluxio.underfs.s3.endpoint.region', type: 'string', default: '', description: 'Default S3 UFS region; empty means AWS_REGION or us-east-1.' },
  { name: 'alluxio.underfs.s3.disable.dns.buckets', type: 'bool', default: 'false', description: 'Use path-style requests to the S3 UFS.' },
  { name: 'alluxio.underfs.s3.server.side.encryption.enabled', type: 'bool', default: 'false', description: 'Ask the S3 UFS to encrypt objects at rest (SSE-S3, AES256).' },
  { name: 'alluxio.underfs.s3.streaming.upload.partition.size', type: 'bytes', default: '64MB', description: 'Part size when a large object is written to the S3 UFS by multipart upload.' },
  { name: 'alluxio.underfs.s3.upload.threads.max', type: 'int', default: '20', description: 'Concurrent part uploads per object written to the S3 UFS.' },

  // ---- security: TLS, authentication, authorization ----
  { name: 'alluxio.worker.s3.https.cert.file', type: 'string', default: '', description: 'PEM certificate (chain) of the worker\'s HTTPS S3 endpoint. With alluxio.worker.s3.https.key.file it turns HTTPS on, on alluxio.worker.s3.https.port, serving the same S3 API as the HTTP port.' },
  { name: 'alluxio.worker.s3.https.key.file', type: 'string', default: '', description: 'PEM private key of the worker\'s HTTPS S3 endpoint.' },
  { name: 'alluxio.worker.s3.https.ca.file', type: 'string', default: '', description: 'PEM CA bundle a worker trusts when it proxies a request to a peer\'s HTTPS port; empty means alluxio.network.tls.ca.file, then the system CAs.' },
  { name: 'alluxio.network.tls.enabled', type: 'bool', default: 'false', description: 'gRPC over TLS between every process: the coordinator and worker peer servers present alluxio.network.tls.cert.file, every client (worker, CLI) verifies them against alluxio.network.tls.ca.file. Alluxio\'s key; PEM files stand in for Alluxio\'s JKS keystore and truststore.' },
  { name: 'alluxio.network.tls.cert.file', type: 'string', default: '', description: 'PEM certificate (chain) the gRPC servers present when alluxio.network.tls.enabled (Alluxio: alluxio.network.tls.keystore.path).' },
  { name: 'alluxio.network.tls.key.file', type: 'string', default: '', description: 'PEM private key of alluxio.network.tls.cert.file.' },
  { name: 'alluxio.network.tls.ca.file', type: 'string', default: '', description: 'PEM CA bundle gRPC clients trust when alluxio.network.tls.enabled (Alluxio: alluxio.network.tls.truststore.path); empty means the system CAs.' },
  { name: 'alluxio.security.cluster.secret', type: 'string', default: '', secret: true, description: 'Shared secret that authenticates worker-to-worker HTTP (forwarded requests, internal /_alluxio endpoints) with an HMAC. Empty: the coordinator generates one, keeps it in its data dir and hands it to workers when they register.' },
  { name: 'alluxio.worker.s3.authentication', type: 'enum', default: 'SIMPLE', values: ['SIMPLE', 'SIGV4', 'OIDC'], description: 'How S3 requests are authenticated. SIMPLE (Alluxio\'s default): the access key names the user and signatures are not checked. SIGV4: AWS signatures (SigV4 headers, presigned SigV4 and SigV2 URLs, signed chunks) are verified against alluxio.worker.s3.credentials.file. OIDC: an OIDC JWT (Authorization: Bearer, or x-amz-security-token) is verified against the issuer\'s JWKS. In SIGV4 and OIDC modes every operation is also authorized against the bucket grants kept by the coordinator.' },
  { name: 'alluxio.worker.s3.credentials.file', type: 'string', default: '', description: 'SIGV4 mode: the credentials file, one "ACCESS_KEY_ID SECRET_ACCESS_KEY USER" a line (# comments), managed by `alluxio credentials`. Empty: <alluxio.data.dir>/security/s3-credentials. Re-read when it changes.' },
  { name: 'alluxio.worker.s3.credentials.reload.interval', type: 'duration', default: '2sec', description: 'SIGV4 mode: how often a worker checks the credentials file for changes (0 disables reloading).' },
  { name: 'alluxio.worker.s3.oidc.jwks.file', type: 'string', default: '', description: 'OIDC mode: a JSON Web Key Set file with the issuer\'s public keys (read again when a token names an unknown key id). Set this or alluxio.worker.s3.oidc.jwks.url; the worker refuses to start in OIDC mode with neither.' },
  { name: 'alluxio.worker.s3.oidc.jwks.url', type: 'string', default: '', aliases: ['alluxio.s3.rest.authentication.jwksaddr'], description: 'OIDC mode: the issuer\'s JWKS endpoint (https://…/jwks.json), cached and fetched again when a token names an unknown key id (key rotation).' },
  { name: 'alluxio.worker.s3.oidc.jwks.cooldown', type: 'duration', default: '30sec', description: 'OIDC mode: shortest time between two loads of the key set prompted by unknown key ids, so forged kids cannot make the worker hammer the identity provider.' },
  { name: 'alluxio.worker.s3.oidc.issuer', type: 'string', default: '', description: 'OIDC mode (required): the iss claim every token must carry.' },
  { name: 'alluxio.worker.s3.oidc.audience', type: 'string', default: '', description: 'OIDC mode: comma-separated accepted aud values; empty skips the audience check.' },
  { name: 'alluxio.worker.s3.oidc.user.claim', type: 'string', default: 'preferred_username,sub', aliases: ['alluxio.s3.rest.authentication.assume.role.token.field'], description: 'OIDC mode: the claims that name the user, tried in order (comma-separated).' },
  { name: 'alluxio.worker.s3.oidc.clock.tolerance', type: 'duration', default: '30sec', description: 'OIDC mode: clock skew forgiven when checking exp and nbf.' },
  { name: 'alluxio.security.admin.users', type: 'string', default: '', description: 'Comma-separated users who may do everything on every bucket in the SIGV4 and OIDC modes (granting is done with "alluxio bucket", on the coordinator).' },

  // ---- hardening: request limits and timeouts ----
  { name: 'alluxio.worker.s3.request.body.idle.timeout', type: 'duration', default: '60sec', description: 'A request body that sends nothing for this long is answered 400 RequestTimeout and its connection closed; whatever it had written is discarded. 0 disables the timeout.' },
  { name: 'alluxio.worker.s3.request.headers.timeout', type: 'duration', default: '60sec', description: 'Longest time a client may take to send a request\'s headers before its connection is closed.' },

  // ---- operations: metrics, jobs, decommission ----
  { name: 'alluxio.worker.web.port', type: 'int', default: '30000', description: 'Worker web port: Prometheus /metrics and /health (the S3 port cannot serve /metrics: that is the listing of a bucket named "metrics"). 0 picks a free port.' },
  { name: 'alluxio.job.batch.size', type: 'int', default: '200', description: 'Objects the coordinator hands a worker in one batch of a load job (alluxio job load).' },
  { name: 'alluxio.job.load.batches.per.worker', type: 'int', default: '2', description: 'Batches of a load job in flight to one worker at a time; with the batch size it bounds how far a job reads ahead of its progress.' },
  { name: 'alluxio.worker.job.load.concurrency', type: 'int', default: '16', description: 'Objects a worker loads into its cache at the same time for one batch of a load job.' },
  { name: 'alluxio.coordinator.decommission.check.interval', type: 'duration', default: '1sec', description: 'How often the coordinator checks whether a DECOMMISSIONING worker still holds unpersisted data; once nothing depends on it, it is DECOMMISSIONED.' },

];

export const REGISTRY: ReadonlyMap<string, PropertyKey> = new Map(keys.map((k) => [k.name, Object.freeze(k)]));

/** Old name → current name. */
export const ALIASES: ReadonlyMap<string, string> = new Map(keys.flatMap((k) => (k.aliases ?? []).map((a) => [a, k.name] as [string, string])));

/** Mount option keys accepted by `alluxio mount add --option k=v` (Alluxio's names, seed 002). */
export const MOUNT_OPTION_KEYS: readonly string[] = [
  'aws.accessKeyId',
  'aws.secretKey',
  'alluxio.underfs.s3.endpoint',
  'alluxio.underfs.s3.endpoint.region',
  'alluxio.underfs.s3.disable.dns.buckets',
  'alluxio.underfs.s3.server.side.encryption.enabled',
  'alluxio.underfs.s3.streaming.upload.partition.size',
  'alluxio.underfs.s3.upload.threads.max',
];

export const SECRET_OPTION_KEYS: ReadonlySet<string> = new Set(keys.filter((k) => k.secret).map((k) => k.name));
