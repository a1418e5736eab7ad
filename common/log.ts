import bunyan from 'bunyan';
import { SECRET_OPTION_KEYS } from './config/registry.js';

export type Logger = bunyan;

const SECRET_FIELD = /secret|password|token|signature|authorization|credential/i;

/** Redacts any field whose name says it holds a secret, at any depth (mount options included). */
function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const secret = SECRET_FIELD.test(k) || SECRET_OPTION_KEYS.has(k);
    out[k] = secret && typeof v === 'string' && v !== '' ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

/** Query parameters of a presigned URL that must never reach a log. */
const SECRET_QUERY = /^(x-amz-signature|signature|x-amz-security-token)$/i;

/**
 * A request target fit for a log: the values of signature and session-token query parameters
 * replaced (presigned URLs carry them). The rest stays as sent, for debugging.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&').map((p) => {
    const eq = p.indexOf('=');
    let name = eq < 0 ? p : p.slice(0, eq);
    try {
      name = decodeURIComponent(name);
    } catch {
      // an undecodable name is kept as sent; it cannot match a secret name anyway
    }
    return eq >= 0 && SECRET_QUERY.test(name) ? `${p.slice(0, eq)}=[redacted]` : p;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/** One bunyan root per process; components and requests take children of it. */
export function createLogger(name: string, level: string, stream: NodeJS.WritableStream = process.stdout): Logger {
  return bunyan.createLogger({
    name,
    level: level as bunyan.LogLevel,
    streams: [{ stream, level: level as bunyan.LogLevel }],
    serializers: { err: bunyan.stdSerializers.err, options: (o: unknown) => redact(o), mount: (m: unknown) => redact(m), headers: (h: unknown) => redact(h), url: (u: unknown) => (typeof u === 'string' ? redactUrl(u) : u) },
  });
}
