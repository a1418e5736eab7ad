/**
 * Object-layer failures: what went wrong in terms of buckets, objects and uploads. The S3 edge
 * maps each code to an S3 error (s3/object-errors.ts); UFS errors are translated here, at the
 * boundary, by `fromUfsError`.
 */
import { UfsError } from '../../common/ufs/types.js';

export type ObjectErrorCode =
  | 'NoSuchBucket' | 'NoSuchKey' | 'BucketNotEmpty' | 'BucketAlreadyOwnedByYou' | 'InvalidBucketName'
  | 'BucketIsMountPoint' | 'ReadOnly' | 'KeyConflict' | 'InvalidKey' | 'NoSuchUpload' | 'InvalidPart'
  | 'InvalidPartOrder' | 'EntityTooSmall' | 'EntityTooLarge' | 'BadDigest' | 'IncompleteBody' | 'PreconditionFailed'
  | 'ContentSha256Mismatch' | 'InvalidRequest' | 'InvalidArgument' | 'SlowDown' | 'PolicyReadOnly' | 'UfsUnavailable' | 'UfsAccessDenied' | 'Changed' | 'Aborted';

export class ObjectError extends Error {
  override name = 'ObjectError';
  constructor(readonly code: ObjectErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function fromUfsError(err: unknown, what: string): unknown {
  if (!(err instanceof UfsError)) return err;
  switch (err.code) {
    case 'NotFound': return new ObjectError('NoSuchKey', `${what} does not exist`, { cause: err });
    case 'Conflict': return new ObjectError('KeyConflict', `${what}: ${err.message}`, { cause: err });
    case 'InvalidKey': return new ObjectError('InvalidKey', `${what}: ${err.message}`, { cause: err });
    case 'AccessDenied': return new ObjectError('UfsAccessDenied', `${what}: ${err.message}`, { cause: err });
    case 'Unavailable': return new ObjectError('UfsUnavailable', `${what}: ${err.message}`, { cause: err });
    case 'Changed': return new ObjectError('Changed', `${what} changed while it was read`, { cause: err });
    case 'Aborted': return new ObjectError('Aborted', 'aborted', { cause: err });
    case 'NotEmpty': return new ObjectError('BucketNotEmpty', `${what} is not empty`, { cause: err });
    default: return err;
  }
}
