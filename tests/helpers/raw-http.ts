/**
 * HTTP/1.1 over a bare socket, for tests that need bytes no client library would send: no
 * Content-Length, lying lengths, slow or half-sent headers and bodies, several requests
 * pipelined on one keep-alive connection. Answers are parsed just enough to assert on (status,
 * headers, body by Content-Length, chunked, or up to the close); interim 1xx answers are skipped.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

export interface RawResult {
  responses: RawResponse[];
  /** The server closed the connection. */
  closed: boolean;
  /** `waitMs` passed before the expected answers (or a close) arrived. */
  timedOut: boolean;
}

/** One request's bytes. `headers` are sent as given (no Host or length is added unless named). */
export function rawRequest(method: string, target: string, headers: Record<string, string | number>, body?: Buffer | string): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), typeof body === 'string' ? Buffer.from(body) : body ?? Buffer.alloc(0)]);
}

interface Parsed { response: RawResponse; used: number }

function parseOne(buf: Buffer, bodiless: boolean, closed: boolean): Parsed | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0])?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const start = end + 4;
  const done = (body: Buffer, used: number): Parsed => ({ response: { status, headers, body, text: body.toString('utf8') }, used });
  if (bodiless || status === 204 || status === 304 || (status >= 100 && status < 200)) return done(Buffer.alloc(0), start);
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    return buf.length - start >= n ? done(buf.subarray(start, start + n), start + n) : undefined;
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const eol = buf.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
      if (size === 0) {
        const fin = buf.indexOf('\r\n\r\n', eol);
        return fin < 0 ? undefined : done(Buffer.concat(parts), fin + 4);
      }
      if (buf.length < eol + 2 + size + 2) return undefined;
      parts.push(buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  return closed ? done(buf.subarray(start), buf.length) : undefined;
}

export interface ExchangeOptions {
  /** Answers to wait for (1xx excluded). */
  responses: number;
  /** Per answer: true when it answers a HEAD (no body follows its headers). */
  heads?: boolean[];
  /** Give up after this long (generous: the machine may be loaded). */
  waitMs?: number;
  /** Pause before each part after the first (slow clients). */
  delayMs?: number;
  /** Half-close after the last part. */
  end?: boolean;
  /** Destroy the connection right after the last part was written (a client that goes away). */
  destroyAfterWrite?: boolean;
}

/** Writes `parts` on one connection and collects the answers. */
export function rawExchange(port: number, parts: (Buffer | string)[], opts: ExchangeOptions): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const responses: RawResponse[] = [];
    let settled = false;
    const finish = (closed: boolean, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses, closed, timedOut });
    };
    const parse = (closed: boolean) => {
      for (;;) {
        const p = parseOne(buf, opts.heads?.[responses.length] ?? false, closed);
        if (!p) break;
        buf = buf.subarray(p.used);
        if (p.response.status >= 100 && p.response.status < 200) continue;
        responses.push(p.response);
        if (responses.length >= opts.responses) return finish(closed, false);
      }
      if (closed) finish(true, false);
    };
    const timer = setTimeout(() => finish(false, true), opts.waitMs ?? 30_000);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      parse(false);
    });
    sock.on('end', () => parse(true));
    sock.on('close', () => parse(true));
    sock.on('error', () => parse(true));
    sock.on('connect', async () => {
      for (let i = 0; i < parts.length; i++) {
        if (i > 0 && opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
        if (settled || sock.destroyed) return;
        await new Promise<void>((r) => sock.write(parts[i], () => r()));
      }
      if (opts.destroyAfterWrite) finish(false, false);
      else if (opts.end) sock.end();
    });
  });
}

/** `<Code>…</Code>` of an S3 error body. */
export function errorCode(r: RawResponse | undefined): string | undefined {
  return r ? /<Code>([^<]+)<\/Code>/.exec(r.text)?.[1] : undefined;
}
