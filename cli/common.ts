/** What every command shares: configuration from the site file and --conf, the coordinator client, one-line errors. */
import { loadConfig, type Config } from '../common/config/config.js';
import { CoordinatorService, grpc, unary } from '../proto/index.js';
import { grpcTls } from '../proto/tls.js';

export class CliError extends Error {
  override name = 'CliError';
}

export interface GlobalArgs {
  conf?: string[];
}

export function configFrom(args: GlobalArgs, extra: string[] = []): Config {
  return loadConfig({ confDir: process.env.ALLUXIO_CONF_DIR, overrides: [...(args.conf ?? []), ...extra] });
}

export function coordinatorAddress(config: Config): string {
  return `${config.string('alluxio.coordinator.hostname')}:${config.int('alluxio.coordinator.rpc.port')}`;
}

/** One unary call to one of the coordinator's services (Coordinator by default), with errors a person can read. */
export async function callCoordinator<Res>(config: Config, method: string, req: object, service: grpc.ServiceClientConstructor = CoordinatorService): Promise<Res> {
  const address = coordinatorAddress(config);
  let client: grpc.Client;
  try {
    client = new service(address, grpcTls(config).channel());
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  try {
    return await unary<object, Res>(client, method, req, 30_000);
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED) {
      throw new CliError(`cannot reach the coordinator at ${address}: ${e.details || e.message}`);
    }
    if (e.code === grpc.status.UNIMPLEMENTED) throw new CliError(`the coordinator at ${address} does not serve ${service.serviceName} (too old?)`);
    throw new CliError(e.details || e.message);
  } finally {
    client.close();
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n');
}
