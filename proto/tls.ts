/**
 * gRPC transport security in one place: every gRPC server (coordinator, worker peer) and every
 * client (worker to coordinator, worker to worker, CLI to coordinator) takes its credentials
 * from here, so one set of keys (alluxio.network.tls.*) turns TLS on for the whole control plane.
 * PEM files are read once, when the credentials are built; a missing or unreadable file is a
 * startup error that names the key.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../common/config/config.js';
import { grpc } from './index.js';

export interface GrpcTls {
  readonly enabled: boolean;
  server(): grpc.ServerCredentials;
  channel(): grpc.ChannelCredentials;
}

function pem(config: Config, key: string, required: boolean): Buffer | null {
  const raw = config.string(key);
  if (raw === '') {
    if (required) throw new Error(`alluxio.network.tls.enabled is true but ${key} is not set`);
    return null;
  }
  const file = config.path(key);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${key} (${file}): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The credentials of this process. Servers need the certificate and key; clients only the CA
 * (empty: the system CAs). Reading is lazy per side, so a CLI without a server key still works.
 */
export function grpcTls(config: Config): GrpcTls {
  const enabled = config.bool('alluxio.network.tls.enabled');
  let serverCreds: grpc.ServerCredentials | undefined;
  let channelCreds: grpc.ChannelCredentials | undefined;
  return {
    enabled,
    server: () => {
      if (!enabled) return grpc.ServerCredentials.createInsecure();
      serverCreds ??= grpc.ServerCredentials.createSsl(null, [{
        cert_chain: pem(config, 'alluxio.network.tls.cert.file', true)!,
        private_key: pem(config, 'alluxio.network.tls.key.file', true)!,
      }], false);
      return serverCreds;
    },
    channel: () => {
      if (!enabled) return grpc.credentials.createInsecure();
      channelCreds ??= grpc.credentials.createSsl(pem(config, 'alluxio.network.tls.ca.file', false));
      return channelCreds;
    },
  };
}

/** Plain-text gRPC, for tests and tools that build servers by hand. */
export const INSECURE_GRPC: GrpcTls = {
  enabled: false,
  server: () => grpc.ServerCredentials.createInsecure(),
  channel: () => grpc.credentials.createInsecure(),
};
