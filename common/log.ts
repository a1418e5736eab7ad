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

/** Query parameters that are bearer secrets while a presigned URL lives. */
const SECRET_QUERY = /^(x-amz-signature|signature|x-amz-security-token)$/i;

/** A request URL fit for a log line: presigned signatures and tokens replaced. */
export function redactUrl(url: string): string {
  const qi = url.indexOf('?');
  if (qi < 0) return url;
  const parts = url.slice(qi + 1).split('&').map((p) => {
    const eq = p.indexOf('=');
    return eq > 0 && SECRET_QUERY.test(p.slice(0, eq).replace(/%2D/gi, '-')) ? `${p.slice(0, eq)}=[redacted]` : p;
  });
  return `${url.slice(0, qi)}?${parts.join('&')}`;
}

/** One bunyan root per process; components and requests take children of it. */
export function createLogger(name: string, level: string, stream: NodeJS.WritableStream = process.stdout): Logger {
  return bunyan.createLogger({
    name,
    level: level as bunyan.LogLevel,
    streams: [{ stream, level: level as bunyan.LogLevel }],
    serializers: { err: bunyan.stdSerializers.err, options: (o: unknown) => redact(o), mount: (m: unknown) => redact(m) },
  });
}
