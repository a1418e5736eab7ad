/**
 * S3 "additional checksums" (x-amz-checksum-crc32 / -crc32c / -crc64nvme / -sha1 / -sha256):
 * header names, value validation, streaming hashers, and the multipart COMPOSITE rule.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 *
 * Values on the wire are base64 of the big-endian digest bytes.
 *
 * Implementations (no hand-written CRC code here):
 *  - CRC32:     node:zlib `crc32` (zlib's C code, GB/s) when the runtime has it (Node >= 20.15 / 22.2);
 *               otherwise `@aws-crypto/crc32`.
 *  - CRC32C:    `Crc32c` from `@aws-sdk/checksums/crc`, the implementation the AWS SDK itself uses
 *               (`@aws-crypto/crc32c` iterates bytes through a tslib iterator and runs at ~35 MiB/s,
 *               about 8x slower — too slow for GB-sized bodies).
 *  - CRC64NVME: `Crc64Nvme` from `@aws-sdk/crc64-nvme` (async digest).
 *  - SHA1/SHA256: node:crypto.
 */
import { createHash, type Hash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { Crc32 as AwsCryptoCrc32 } from '@aws-crypto/crc32';
import { Crc32c as SdkCrc32c } from '@aws-sdk/checksums/crc';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import type { ChecksumAlgorithm } from './ufs/types.js';

export type { ChecksumAlgorithm, StoredChecksum } from './ufs/types.js';

export type MultipartChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = Object.freeze([
  'CRC32',
  'CRC32C',
  'CRC64NVME',
  'SHA1',
  'SHA256',
] as const);

const HEADER_PREFIX = 'x-amz-checksum-';

const DIGEST_LENGTH: Readonly<Record<ChecksumAlgorithm, number>> = Object.freeze({
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
});

const BY_LOWER_NAME: ReadonlyMap<string, ChecksumAlgorithm> = new Map(
  CHECKSUM_ALGORITHMS.map((a) => [a.toLowerCase(), a] as const),
);

/** 'CRC32' → 'x-amz-checksum-crc32' */
export function checksumHeaderName(alg: ChecksumAlgorithm): string {
  return HEADER_PREFIX + alg.toLowerCase();
}

/**
 * 'x-amz-checksum-crc32' (any case) or 'crc32'/'CRC32' → 'CRC32'; undefined if not one of ours
 * (including 'x-amz-checksum-algorithm', 'x-amz-checksum-type', 'x-amz-checksum-mode').
 * No trimming: the input must be exactly a name or a header name.
 */
export function parseChecksumAlgorithm(nameOrHeader: string): ChecksumAlgorithm | undefined {
  let s = nameOrHeader.toLowerCase();
  if (s.startsWith(HEADER_PREFIX)) s = s.slice(HEADER_PREFIX.length);
  return BY_LOWER_NAME.get(s);
}

/** Digest length in bytes: 4, 4, 8, 20, 32. */
export function digestLength(alg: ChecksumAlgorithm): number {
  const n = DIGEST_LENGTH[alg];
  if (n === undefined) throw new TypeError(`unknown checksum algorithm: ${String(alg)}`);
  return n;
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * True when `b64` is canonical base64 of exactly digestLength bytes: standard alphabet, padded,
 * no whitespace, and no stray bits in the last character (it must re-encode to itself).
 * Composite values ("...-N") are not plain digests and are rejected here.
 */
export function isValidChecksumValue(alg: ChecksumAlgorithm, b64: string): boolean {
  const n = digestLength(alg);
  if (typeof b64 !== 'string' || b64.length !== 4 * Math.ceil(n / 3) || !BASE64_RE.test(b64)) return false;
  const raw = Buffer.from(b64, 'base64');
  return raw.length === n && raw.toString('base64') === b64;
}

export interface ChecksumHasher {
  update(chunk: Uint8Array): void;
  /** Big-endian digest bytes. Call once; later calls return the same digest, update() after it throws. */
  digest(): Promise<Buffer>;
}

/** The minimal shape shared by the SDK's async checksum classes. */
interface AsyncDigest {
  update(data: Uint8Array): void;
  digest(): Promise<Uint8Array>;
}

const hasZlibCrc32 = typeof (zlib as { crc32?: unknown }).crc32 === 'function';

function uint32BE(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

abstract class BaseHasher implements ChecksumHasher {
  private result: Promise<Buffer> | undefined;
  constructor(readonly algorithm: ChecksumAlgorithm) {}

  update(chunk: Uint8Array): void {
    if (this.result) throw new Error(`${this.algorithm} hasher: update() after digest()`);
    if (chunk.byteLength > 0) this.feed(chunk);
  }

  digest(): Promise<Buffer> {
    this.result ??= this.finish();
    return this.result;
  }

  protected abstract feed(chunk: Uint8Array): void;
  protected abstract finish(): Promise<Buffer>;
}

/** zlib's crc32, carrying the running value between chunks. */
class ZlibCrc32Hasher extends BaseHasher {
  private crc = 0;
  constructor() {
    super('CRC32');
  }
  protected feed(chunk: Uint8Array): void {
    this.crc = zlib.crc32(chunk, this.crc);
  }
  protected finish(): Promise<Buffer> {
    return Promise.resolve(uint32BE(this.crc));
  }
}

/** Fallback for runtimes without zlib.crc32. */
class AwsCryptoCrc32Hasher extends BaseHasher {
  private readonly h = new AwsCryptoCrc32();
  constructor() {
    super('CRC32');
  }
  protected feed(chunk: Uint8Array): void {
    this.h.update(chunk);
  }
  protected finish(): Promise<Buffer> {
    return Promise.resolve(uint32BE(this.h.digest()));
  }
}

class SdkHasher extends BaseHasher {
  constructor(
    algorithm: ChecksumAlgorithm,
    private readonly h: AsyncDigest,
  ) {
    super(algorithm);
  }
  protected feed(chunk: Uint8Array): void {
    this.h.update(chunk);
  }
  protected async finish(): Promise<Buffer> {
    return asBuffer(await this.h.digest());
  }
}

class NodeHashHasher extends BaseHasher {
  private readonly h: Hash;
  constructor(algorithm: 'SHA1' | 'SHA256') {
    super(algorithm);
    this.h = createHash(algorithm === 'SHA1' ? 'sha1' : 'sha256');
  }
  protected feed(chunk: Uint8Array): void {
    this.h.update(chunk);
  }
  protected finish(): Promise<Buffer> {
    return Promise.resolve(this.h.digest());
  }
}

export function createChecksumHasher(alg: ChecksumAlgorithm): ChecksumHasher {
  switch (alg) {
    case 'CRC32':
      return hasZlibCrc32 ? new ZlibCrc32Hasher() : new AwsCryptoCrc32Hasher();
    case 'CRC32C':
      return new SdkHasher(alg, new SdkCrc32c());
    case 'CRC64NVME':
      return new SdkHasher(alg, new Crc64Nvme());
    case 'SHA1':
    case 'SHA256':
      return new NodeHashHasher(alg);
    default:
      throw new TypeError(`unknown checksum algorithm: ${String(alg)}`);
  }
}

/** One-shot helper: base64 digest of a buffer. */
export async function checksumOf(alg: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  const h = createChecksumHasher(alg);
  h.update(data);
  return (await h.digest()).toString('base64');
}

/**
 * S3's COMPOSITE multipart checksum: the checksum of the concatenated raw part digests,
 * base64, suffixed "-<number of parts>".
 * Throws on an empty list, an invalid part digest, or an algorithm S3 does not allow COMPOSITE for
 * (CRC64NVME).
 */
export async function compositeChecksum(alg: ChecksumAlgorithm, partDigestsBase64: string[]): Promise<string> {
  if (!multipartChecksumTypes(alg).includes('COMPOSITE')) {
    throw new RangeError(`${alg} does not support the COMPOSITE multipart checksum type`);
  }
  if (partDigestsBase64.length === 0) throw new RangeError('compositeChecksum needs at least one part digest');
  const n = digestLength(alg);
  const raw = Buffer.allocUnsafe(n * partDigestsBase64.length);
  partDigestsBase64.forEach((b64, i) => {
    if (!isValidChecksumValue(alg, b64)) throw new RangeError(`invalid ${alg} digest for part ${i + 1}: ${JSON.stringify(b64)}`);
    Buffer.from(b64, 'base64').copy(raw, i * n);
  });
  return `${await checksumOf(alg, raw)}-${partDigestsBase64.length}`;
}

const MULTIPART_TYPES: Readonly<Record<ChecksumAlgorithm, readonly MultipartChecksumType[]>> = Object.freeze({
  CRC32: Object.freeze(['COMPOSITE', 'FULL_OBJECT'] as const),
  CRC32C: Object.freeze(['COMPOSITE', 'FULL_OBJECT'] as const),
  CRC64NVME: Object.freeze(['FULL_OBJECT'] as const),
  SHA1: Object.freeze(['COMPOSITE'] as const),
  SHA256: Object.freeze(['COMPOSITE'] as const),
});

/** Which algorithms allow which multipart checksum type (S3: CRC64NVME is FULL_OBJECT only; SHA1/SHA256 COMPOSITE only; CRC32/CRC32C both, default COMPOSITE). */
export function multipartChecksumTypes(alg: ChecksumAlgorithm): readonly MultipartChecksumType[] {
  const t = MULTIPART_TYPES[alg];
  if (t === undefined) throw new TypeError(`unknown checksum algorithm: ${String(alg)}`);
  return t;
}

export function defaultMultipartChecksumType(alg: ChecksumAlgorithm): MultipartChecksumType {
  return multipartChecksumTypes(alg)[0]!;
}
