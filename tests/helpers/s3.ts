import { NodeHttpHandler } from '@smithy/node-http-handler';
import assert from 'node:assert/strict';
import { S3Client } from '@aws-sdk/client-s3';

/** The JS SDK v3 at its defaults, path-style, against an endpoint of ours (or moto). */
export function s3Client(endpoint: string, accessKeyId = 'alice'): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey: 'any' } });
}

/**
 * A client that tries each request once (a broken request must show up, not be retried away),
 * with bounded connect and request times.
 */
export function oneAttemptClient(endpoint: string, opts: { connectTimeoutMs?: number; requestTimeoutMs?: number } = {}): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: opts.connectTimeoutMs ?? 10_000, requestTimeout: opts.requestTimeoutMs ?? 120_000 }),
  });
}

/** The SDK error a client sees: its name (the S3 code, or NotFound for a HEAD) and HTTP status. */
export async function expectS3Error(p: Promise<unknown>, name: string, status: number): Promise<void> {
  await assert.rejects(p, (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(err.name, name);
    assert.equal(err.$metadata?.httpStatusCode, status);
    return true;
  });
}
