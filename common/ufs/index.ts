import { LocalUnderFileSystem } from './local.js';
import { S3UnderFileSystem } from './s3.js';
import { UfsError, type UfsOptions, type UnderFileSystem } from './types.js';

export * from './types.js';

/** `file:///dir`, a plain path, or `s3://bucket/prefix`. */
export function createUfs(uri: string, opts: UfsOptions): UnderFileSystem {
  if (uri.startsWith('s3://') || uri.startsWith('s3a://')) return new S3UnderFileSystem(uri, opts);
  if (uri.startsWith('file://') || uri.startsWith('/') || !/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    return new LocalUnderFileSystem(uri, opts);
  }
  throw new UfsError('InvalidKey', `unsupported UFS URI ${uri}: use a directory path, file:///dir or s3://bucket/prefix`);
}
