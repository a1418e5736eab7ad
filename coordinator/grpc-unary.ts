import type * as grpc from '@grpc/grpc-js';

/**
 * A unary gRPC handler from a plain (async) function: its result is the answer, and anything it
 * throws goes through the service's own `toStatus` (one translation per service).
 */
export function unaryHandler<Req, Res>(
  method: string,
  toStatus: (err: unknown, method: string) => Partial<grpc.StatusObject>,
  fn: (req: Req) => Promise<Res> | Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => callback(null, res),
        (err) => callback(toStatus(err, method)),
      );
  };
}
