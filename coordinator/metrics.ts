/**
 * The coordinator's Prometheus metrics, on a Registry of its own (never prom-client's global
 * default, so several coordinators in one test process stay apart): gRPC requests by service,
 * method and status code, counted by wrapping each service implementation; and gauges read at
 * scrape time from the status view (members by state, versions, mounts, path policies, ring
 * shares, the write cache's persistence backlog).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { grpc } from '../proto/index.js';
import type { ClusterStatus } from './status.js';

const GRPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15];

type AnyHandler = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => void;

function codeName(code: number | undefined): string {
  return code === undefined ? 'UNKNOWN' : (grpc.status[code] ?? String(code));
}

export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly grpcRequests: Counter<'service' | 'method' | 'code'>;
  private readonly grpcDuration: Histogram<'service' | 'method'>;

  constructor() {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    this.grpcRequests = new Counter({ name: 'alluxio_coordinator_grpc_requests_total', help: 'gRPC calls answered by the coordinator, by service, method and status code (a stream counts when it ends; each call inside a Metastore session counts as its method).', labelNames: ['service', 'method', 'code'], registers: [r] });
    this.grpcDuration = new Histogram({ name: 'alluxio_coordinator_grpc_request_duration_seconds', help: 'Time to answer a unary gRPC call, by service and method.', labelNames: ['service', 'method'], buckets: GRPC_BUCKETS, registers: [r] });
  }

  /**
   * A call carried inside a stream (the Metastore Session's messages), counted and timed like
   * the unary call it stands for.
   */
  observeCall(service: string, method: string, code: number, seconds: number): void {
    this.grpcRequests.inc({ service, method, code: codeName(code) });
    this.grpcDuration.observe({ service, method }, seconds);
  }

  /**
   * The same service implementation, every call counted: unary and client-streaming calls when
   * they answer, server streams when they end (OK) or are cancelled.
   */
  instrument(service: string, definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
    const out: grpc.UntypedServiceImplementation = {};
    for (const [method, handler] of Object.entries(impl)) {
      const attrs = definition[method];
      const fn = handler as unknown as AnyHandler;
      if (!attrs || attrs.responseStream) {
        out[method] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
          let counted = false;
          const count = (code: string): void => {
            if (counted) return;
            counted = true;
            this.grpcRequests.inc({ service, method, code });
          };
          call.once('finish', () => count('OK'));
          call.once('cancelled', () => count('CANCELLED'));
          call.once('error', (err: { code?: number }) => count(codeName(err.code)));
          fn(call);
        }) as unknown as grpc.UntypedHandleCall;
        continue;
      }
      out[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const started = process.hrtime.bigint();
        fn(call, (err, value, trailer, flags) => {
          this.grpcRequests.inc({ service, method, code: err ? codeName(err.code ?? grpc.status.UNKNOWN) : 'OK' });
          this.grpcDuration.observe({ service, method }, Number(process.hrtime.bigint() - started) / 1e9);
          callback(err, value, trailer, flags);
        });
      }) as unknown as grpc.UntypedHandleCall;
    }
    return out;
  }

  /** Registers the gauges read from the status view at scrape time (one status per scrape). */
  readFrom(status: () => Promise<ClusterStatus>): void {
    const r = this.registry;
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: ClusterStatus) => void): void => {
      new Gauge({
        name, help, labelNames, registers: [r],
        async collect() {
          const s = await status();
          this.reset();
          fill(this, s);
        },
      });
    };
    gauge('alluxio_coordinator_workers', 'Known workers by state (LIVE workers form the ring).', ['state'], (g, s) => {
      for (const [state, n] of Object.entries(s.membersByState)) g.set({ state }, n);
    });
    gauge('alluxio_cluster_version', 'The cluster version: bumped on every membership, mount or path-config change; workers serve with the snapshot of this version once it reaches them.', [], (g, s) => g.set(s.clusterVersion));
    gauge('alluxio_coordinator_mounts', 'Mount points in the mount table, the root included.', [], (g, s) => g.set(s.mounts.length));
    gauge('alluxio_path_config_version', 'Version of the path-level write policies.', [], (g, s) => g.set(s.pathConfig.version));
    gauge('alluxio_path_config_rules', 'Rules in the path-level write policies (the default not counted).', [], (g, s) => {
      const rules = (s.pathConfig.document as { rules?: unknown[] } | null)?.rules;
      g.set(Array.isArray(rules) ? rules.length : 0);
    });
    gauge('alluxio_write_cache_enabled', '1 when the write cache is on (alluxio.write.cache.enabled).', [], (g, s) => g.set(s.writeCacheEnabled ? 1 : 0));
    gauge('alluxio_coordinator_ring_share', 'Fraction of the hash ring each LIVE worker owns.', ['worker'], (g, s) => {
      for (const w of s.workers) if (w.state === 'LIVE') g.set({ worker: w.id }, w.ringShare);
    });
    gauge('alluxio_persistence_unpersisted_objects', 'WRITE_BACK objects acknowledged and not yet persisted, cluster-wide (the metastore\'s count).', [], (g, s) => g.set(s.persistence.unpersisted));
    gauge('alluxio_persistence_pending_bytes', 'Bytes of WRITE_BACK objects not yet persisted.', [], (g, s) => g.set(s.persistence.pendingBytes));
    gauge('alluxio_persistence_failing_objects', 'Unpersisted objects whose last persistence attempt failed.', [], (g, s) => g.set(s.persistence.failing));
    gauge('alluxio_persistence_oldest_unpersisted_age_seconds', 'Age of the oldest unpersisted WRITE_BACK object; 0 when none.', [], (g, s) => g.set(s.persistence.oldestUnpersistedAgeMs / 1000));
    gauge('alluxio_persistence_transient_objects', 'TRANSIENT objects held by workers (never persisted).', [], (g, s) => g.set(s.persistence.transient));
    gauge('alluxio_persistence_metastore_up', '1 when the metastore could be read for the persistence numbers.', [], (g, s) => g.set(s.persistence.available ? 1 : 0));
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
