/**
 * Decodes `Content-Encoding: aws-chunked` bodies (STREAMING-UNSIGNED-PAYLOAD-TRAILER and the
 * signed STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] forms): `<hex>[;chunk-signature=…]\r\n
 * <data>\r\n … 0[;…]\r\n[trailer lines\r\n]\r\n`. Only the data reaches the object; chunk
 * signatures and trailers are collected for the caller to check.
 */
import { createHash, type Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { EMPTY_SHA256, sameSignature, type ChunkSigner } from './sigv4.js';

const MAX_LINE = 4096;

export class AwsChunkedError extends Error {
  override name = 'AwsChunkedError';
}

/** A chunk or trailer signature that does not continue the request's signature chain. */
export class ChunkSignatureError extends AwsChunkedError {
  override name = 'ChunkSignatureError';
}

/** How a verified signed-chunk body is checked: the chain seeded by the request signature. */
export interface ChunkVerification {
  signer: ChunkSigner;
  /** STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: the trailer carries x-amz-trailer-signature. */
  signedTrailer: boolean;
}

const CHUNK_VERIFICATION = Symbol('aws-chunked signature chain');

/** Set by the authenticator once the seed signature verified; read when the body is decoded. */
export function setChunkVerification(req: IncomingMessage, v: ChunkVerification): void {
  (req as unknown as Record<symbol, ChunkVerification>)[CHUNK_VERIFICATION] = v;
}

export function chunkVerificationOf(req: IncomingMessage): ChunkVerification | undefined {
  return (req as unknown as Record<symbol, ChunkVerification | undefined>)[CHUNK_VERIFICATION];
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
  private chunkHash: Hash | undefined;
  private expectedSignature = '';
  private trailerText = '';
  private trailerSignature: string | undefined;

  /**
   * With `verify`, every chunk signature is checked as its data ends, and the trailer
   * signature when the body ends, so a tampered byte fails the stream before it completes
   * (and before the object layer commits anything).
   */
  constructor(private readonly verify?: ChunkVerification) {
    super();
  }

  override _transform(input: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let buf = input;
    try {
      while (buf.length > 0) {
        if (this.state === 'data') {
          const take = Math.min(this.remaining, buf.length);
          this.chunkHash?.update(buf.subarray(0, take));
          this.push(buf.subarray(0, take));
          this.decodedBytes += take;
          this.remaining -= take;
          buf = buf.subarray(take);
          if (this.remaining === 0) {
            if (this.chunkHash) this.checkChunk(this.chunkHash.digest('hex'));
            this.state = 'data-crlf';
          }
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
        const signature = sig?.slice('chunk-signature='.length);
        this.chunks.push({ size, signature });
        if (this.verify) {
          if (!signature || !/^[0-9a-f]{64}$/.test(signature)) throw new ChunkSignatureError('a chunk of a signed aws-chunked body has no chunk-signature');
          this.expectedSignature = signature;
          this.chunkHash = createHash('sha256');
          if (size === 0) this.checkChunk(EMPTY_SHA256);
        }
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
          this.checkTrailer();
          this.state = 'done';
          return;
        }
        const colon = line.indexOf(':');
        if (colon <= 0) throw new AwsChunkedError(`bad trailer line "${line.slice(0, 64)}"`);
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        this.trailers.set(name, value);
        // The trailer signature signs every trailer line but itself.
        if (name === 'x-amz-trailer-signature') this.trailerSignature = value;
        else this.trailerText += `${name}:${value}\n`;
        return;
      }
      default:
        return;
    }
  }

  private checkChunk(dataSha256: string): void {
    const want = this.verify!.signer.next(dataSha256);
    if (!sameSignature(want, this.expectedSignature)) throw new ChunkSignatureError(`the signature of chunk ${this.chunks.length} does not match`);
  }

  private checkTrailer(): void {
    if (!this.verify?.signedTrailer) return;
    if (this.trailerSignature === undefined) throw new ChunkSignatureError('the signed trailer has no x-amz-trailer-signature');
    if (!sameSignature(this.verify.signer.trailer(this.trailerText), this.trailerSignature.toLowerCase())) throw new ChunkSignatureError('the trailer signature does not match');
  }

  override _flush(cb: TransformCallback): void {
    try {
      // Some encoders end right after the trailer lines without the final empty line.
      if (this.state === 'trailer' && this.line === '') this.checkTrailer();
      else if (this.state !== 'done') throw new AwsChunkedError('the aws-chunked body ended early');
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
}
