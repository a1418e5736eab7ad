/**
 * The coordinator's one error type. Domain modules throw it with a transport-neutral code;
 * only the gRPC service and the REST API translate it (to a gRPC status or an HTTP status),
 * so neither membership nor the mount table imports grpc-js or express.
 */
export type CoordinatorErrorCode = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'UNAVAILABLE';

export class CoordinatorError extends Error {
  override name = 'CoordinatorError';
  constructor(readonly code: CoordinatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export const HTTP_STATUS: Readonly<Record<CoordinatorErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 412,
  UNAVAILABLE: 503,
};
