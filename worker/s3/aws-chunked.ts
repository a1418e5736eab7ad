/**
 * Decodes `Content-Encoding: aws-chunked` bodies (STREAMING-UNSIGNED-PAYLOAD-TRAILER and the
 * signed STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] forms): `<hex>[;chunk-signature=…]\r\n
 * <data>\r\n … 0[;…]\r\n[trailer lines\r\n]\r\n`. Only the data reaches the object; chunk
 * signatures and trailers are collected for the caller to check.
 */
import { Transform, type TransformCallback } from 'node:stream';

const MAX_LINE = 4096;

export class AwsChunkedError extends Error {
  override name = 'AwsChunkedError';
}

export interface ChunkInfo {
  size: number;
  signature?: string;
}

export class AwsChunkedDecoder extends Transform {
  private state: 'header' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'header';
  private line = '';
  private remaining = 0;
  readonly chunks: ChunkInfo[] = [];
  readonly trailers = new Map<string, string>();
  decodedBytes = 0;

  override _transform(input: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let buf = input;
    try {
      while (buf.length > 0) {
        if (this.state === 'data') {
          const take = Math.min(this.remaining, buf.length);
          this.push(buf.subarray(0, take));
          this.decodedBytes += take;
          this.remaining -= take;
          buf = buf.subarray(take);
          if (this.remaining === 0) this.state = 'data-crlf';
          continue;
        }
        if (this.state === 'done') {
          if (buf.toString('latin1').trim() !== '') throw new AwsChunkedError('data after the final chunk');
          break;
        }
        // Line-oriented states: header, the CRLF after data, trailer lines.
        const nl = buf.indexOf(0x0a);
        const part = buf.subarray(0, nl >= 0 ? nl + 1 : buf.length).toString('latin1');
        this.line += part;
        buf = buf.subarray(part.length);
        if (this.line.length > MAX_LINE) throw new AwsChunkedError('chunk header line too long');
        if (nl < 0) break;
        const line = this.line.replace(/\r?\n$/, '');
        this.line = '';
        this.onLine(line);
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private onLine(line: string): void {
    switch (this.state) {
      case 'data-crlf':
        if (line !== '') throw new AwsChunkedError('chunk data longer than its declared size');
        this.state = 'header';
        return;
      case 'header': {
        const [hex, ...ext] = line.split(';');
        if (!/^[0-9a-fA-F]{1,16}$/.test(hex.trim())) throw new AwsChunkedError(`bad chunk size line "${line.slice(0, 64)}"`);
        const size = parseInt(hex.trim(), 16);
        const sig = ext.map((e) => e.trim()).find((e) => e.startsWith('chunk-signature='));
        this.chunks.push({ size, signature: sig?.slice('chunk-signature='.length) });
        if (size === 0) {
          this.state = 'trailer';
        } else {
          this.remaining = size;
          this.state = 'data';
        }
        return;
      }
      case 'trailer': {
        if (line === '') {
          this.state = 'done';
          return;
        }
        const colon = line.indexOf(':');
        if (colon <= 0) throw new AwsChunkedError(`bad trailer line "${line.slice(0, 64)}"`);
        this.trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
        return;
      }
      default:
        return;
    }
  }

  override _flush(cb: TransformCallback): void {
    // Some encoders end right after the trailer lines without the final empty line.
    if (this.state === 'done' || (this.state === 'trailer' && this.line === '')) cb();
    else cb(new AwsChunkedError('the aws-chunked body ended early'));
  }
}
