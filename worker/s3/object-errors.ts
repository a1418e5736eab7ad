/** The object layer's failures as S3 errors: the one translation point between the two tiers. */
import { ObjectError } from '../objects/errors.js';
import { S3Error, type S3ErrorCode } from './errors.js';
import { AwsChunkedError, ChunkSignatureError } from './aws-chunked.js';
import { PathEscapeError } from '../../common/safe-path.js';

const MAP: Record<ObjectError['code'], S3ErrorCode> = {
  NoSuchBucket: 'NoSuchBucket',
  NoSuchKey: 'NoSuchKey',
  BucketNotEmpty: 'BucketNotEmpty',
  BucketAlreadyOwnedByYou: 'BucketAlreadyOwnedByYou',
  InvalidBucketName: 'InvalidBucketName',
  BucketIsMountPoint: 'MethodNotAllowed',
  ReadOnly: 'AccessDenied',
  KeyConflict: 'InvalidRequest',
  InvalidKey: 'InvalidArgument',
  NoSuchUpload: 'NoSuchUpload',
  InvalidPart: 'InvalidPart',
  InvalidPartOrder: 'InvalidPartOrder',
  EntityTooSmall: 'EntityTooSmall',
  EntityTooLarge: 'EntityTooLarge',
  BadDigest: 'BadDigest',
  IncompleteBody: 'IncompleteBody',
  UfsUnavailable: 'ServiceUnavailable',
  UfsAccessDenied: 'AccessDenied',
  Changed: 'ServiceUnavailable',
  Aborted: 'RequestTimeout',
  PreconditionFailed: 'PreconditionFailed',
  ContentSha256Mismatch: 'XAmzContentSHA256Mismatch',
  InvalidRequest: 'InvalidRequest',
  InvalidArgument: 'InvalidArgument',
  SlowDown: 'SlowDown',
  PolicyReadOnly: 'AccessDenied',
};

/** Messages of these are safe and useful to show the client; others keep S3's generic text. */
const SHOW_MESSAGE = new Set<ObjectError['code']>(['BucketIsMountPoint', 'ReadOnly', 'KeyConflict', 'InvalidKey', 'InvalidPart', 'EntityTooSmall', 'EntityTooLarge', 'IncompleteBody', 'InvalidBucketName', 'BadDigest', 'InvalidRequest', 'InvalidArgument', 'InvalidPartOrder', 'SlowDown', 'PolicyReadOnly']);

export function toS3Error(err: unknown, resource: { bucket?: string; key?: string }): unknown {
  if (err instanceof ChunkSignatureError) return new S3Error('SignatureDoesNotMatch', `The request signature we calculated does not match the signature you provided: ${err.message}.`, {}, { cause: err });
  // Broken aws-chunked framing is the client's fault: a 400 it will not blindly retry.
  if (err instanceof AwsChunkedError) return new S3Error('IncompleteBody', `The aws-chunked body is malformed: ${err.message}.`, {}, { cause: err });
  // A name that would lead outside its root (common/safe-path.ts): the request is refused, never served.
  if (err instanceof PathEscapeError) return new S3Error('InvalidArgument', 'The request names a path outside the storage root.', {}, { cause: err });
  if (!(err instanceof ObjectError)) return err;
  const extra: Record<string, string> = {};
  if (resource.bucket && (err.code === 'NoSuchBucket' || err.code === 'BucketNotEmpty' || err.code === 'BucketAlreadyOwnedByYou')) extra.BucketName = resource.bucket;
  if (resource.key !== undefined && err.code === 'NoSuchKey') extra.Key = resource.key;
  const s3err = new S3Error(MAP[err.code], SHOW_MESSAGE.has(err.code) ? err.message : undefined, extra, { cause: err });
  // A retryable refusal says when to come back (pinned write-cache space is full).
  if (err.code === 'SlowDown') s3err.headers['Retry-After'] = '1';
  return s3err;
}
