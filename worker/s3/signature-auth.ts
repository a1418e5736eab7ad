/**
 * SIGV4 mode: every request carrying AWS credentials must prove it holds the secret key of a
 * credential in the credentials file. Accepted forms, as S3 accepts them:
 *   - `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` (SigV4);
 *   - presigned SigV4 URLs (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
 *     `X-Amz-SignedHeaders`, `X-Amz-Signature`);
 *   - `Authorization: AWS AKID:signature` and presigned SigV2 URLs (`AWSAccessKeyId`, `Expires`,
 *     `Signature`), which boto3, the AWS CLI v1 and s3cmd produce by default.
 * A request with no credentials at all is anonymous (the authorization layer decides what it
 * may do); a request with credentials that do not verify is refused, whatever it asks for.
 * Signed-chunk bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) get their chain seeded
 * here and checked chunk by chunk as the body is decoded (aws-chunked.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Credential } from '../../common/credentials-file.js';
import { accessKeyOf, type Authenticator, type Identity } from './auth.js';
import type { CredentialLookup } from './credentials.js';
import { S3Error } from './errors.js';
import { bucketFromHost } from './router.js';
import { REDIRECT_MARK } from './server.js';
import { setChunkVerification } from './aws-chunked.js';
import {
  ALGORITHM, ChunkSigner, EMPTY_SHA256, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER, UNSIGNED_PAYLOAD,
  canonicalHeaders, canonicalQuery, canonicalRequest, canonicalUri, formatAmzDate, parseAmzDate, parseAuthorizationV4,
  parseCredentialScope, sameSignature, sign, signingKey, stringToSign, type CredentialScope,
} from './sigv4.js';
import { canonicalAmzHeadersV2, canonicalResourceV2, signV2, stringToSignV2 } from './sigv2.js';

/** S3 refuses header-signed requests more than 15 minutes away from its clock. */
export const MAX_SKEW_MS = 15 * 60 * 1000;
/** A presigned URL lives at most 7 days. */
export const MAX_PRESIGN_EXPIRES_S = 604_800;

const PAYLOAD_MARKERS = new Set([UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER]);
/** The mark a 307 adds to the client's URL (server.ts) was not signed by the client. */
const NOT_SIGNED = new Set([REDIRECT_MARK]);
const NOT_SIGNED_PRESIGNED = new Set([REDIRECT_MARK, 'X-Amz-Signature']);
const PRESIGN_V4_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'];

export interface SignatureAuthOptions {
  credentials: CredentialLookup;
  /** The region GetBucketLocation reports; SigV4 scopes must name it (us-east-1 is also accepted for ?location, S3-CLIENTS A7). */
  region: string;
  virtualHostDomains: readonly string[];
  /** The clock, in epoch ms (tests shift it). */
  now?: () => number;
}

interface Parsed {
  rawPath: string;
  rawQuery: string;
  /** Query parameters decoded without turning '+' into ' ' (base64 signatures keep their '+'). */
  query: Map<string, string>;
}

function parseUrl(url: string): Parsed {
  const qi = url.indexOf('?');
  const rawPath = qi < 0 ? url : url.slice(0, qi);
  const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
  const query = new Map<string, string>();
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const dec = (s: string) => { try { return decodeURIComponent(s); } catch { return s; } };
    const name = dec(eq < 0 ? part : part.slice(0, eq));
    if (!query.has(name)) query.set(name, dec(eq < 0 ? '' : part.slice(eq + 1)));
  }
  return { rawPath, rawQuery, query };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** S3's hint for a client debugging its signer: the exact text we signed, also as hex bytes. */
function mismatch(accessKeyId: string, provided: string, sts: string, canonical?: string): S3Error {
  const bytes = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const extra: Record<string, string> = { AWSAccessKeyId: accessKeyId, StringToSign: sts, SignatureProvided: provided, StringToSignBytes: bytes(sts) };
  if (canonical !== undefined) Object.assign(extra, { CanonicalRequest: canonical, CanonicalRequestBytes: bytes(canonical) });
  return new S3Error('SignatureDoesNotMatch', undefined, extra);
}

export class SignatureAuthenticator implements Authenticator {
  private readonly now: () => number;

  constructor(private readonly opts: SignatureAuthOptions) {
    this.now = opts.now ?? Date.now;
  }

  authenticate(req: IncomingMessage): Identity {
    const url = parseUrl(req.url ?? '/');
    const auth = header(req, 'authorization');
    const presignedV4 = PRESIGN_V4_PARAMS.some((p) => url.query.has(p));
    const presignedV2 = url.query.has('AWSAccessKeyId') || url.query.has('Signature');
    if (auth !== undefined) {
      if (presignedV4 || presignedV2) {
        throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified', { ArgumentName: 'Authorization', ArgumentValue: auth.slice(0, 32) });
      }
      if (auth.startsWith(`${ALGORITHM} `)) return this.headerV4(req, url, auth);
      const v2 = /^AWS ([^:\s]+):(\S+)$/.exec(auth.trim());
      if (v2) return this.headerV2(req, url, v2[1], v2[2]);
      throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: auth.split(' ')[0] });
    }
    if (presignedV4) return this.queryV4(req, url);
    if (presignedV2) return this.queryV2(req, url);
    return { user: '', method: 'anonymous' };
  }

  /**
   * Headers that sign a bodiless request a worker makes for the caller of `req` (e.g. the
   * per-key DELETEs of DeleteObjects, sent to each key's owner): the caller's own signature
   * covers only its own request, so it is re-signed with the caller's key pair from the
   * credentials file every worker reads. `callerHeaders` are the authenticated caller's
   * (`authorization`); undefined for an anonymous caller.
   */
  peerHeaders(callerHeaders: Readonly<Record<string, string>>, method: string, hostPort: string, pathAndQuery: string): Record<string, string> | undefined {
    const accessKeyId = accessKeyOf(callerHeaders.authorization);
    const cred = accessKeyId !== undefined ? this.opts.credentials.lookup(accessKeyId) : undefined;
    if (!cred) return undefined;
    const amzDate = formatAmzDate(this.now());
    const scope = `${amzDate.slice(0, 8)}/${this.opts.region}/s3/aws4_request`;
    const url = parseUrl(pathAndQuery);
    const headers = { host: hostPort, 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': amzDate };
    const signed = Object.keys(headers).sort();
    const canonical = canonicalRequest(method, canonicalUri(url.rawPath), canonicalQuery(url.rawQuery), signed.map((h) => `${h}:${headers[h as keyof typeof headers]}\n`).join(''), signed.join(';'), EMPTY_SHA256);
    const signature = sign(signingKey(cred.secretAccessKey, amzDate.slice(0, 8), this.opts.region, 's3'), stringToSign(amzDate, scope, canonical));
    return {
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': amzDate,
      authorization: `${ALGORITHM} Credential=${cred.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`,
    };
  }

  private credential(accessKeyId: string): Credential {
    const c = this.opts.credentials.lookup(accessKeyId);
    if (!c) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
    return c;
  }

  /** The scope problem, if any, in S3's words (header and query forms word it differently). */
  private scopeProblem(scope: CredentialScope, url: Parsed): { message: string; region?: string } | undefined {
    if (scope.terminal !== 'aws4_request') return { message: `incorrect terminal '${scope.terminal}'. This endpoint uses 'aws4_request'.` };
    if (scope.service !== 's3') return { message: `incorrect service '${scope.service}'. This endpoint belongs to 's3'.` };
    const regionOk = scope.region === this.opts.region || (scope.region === 'us-east-1' && url.query.has('location'));
    if (!regionOk) return { message: `the region '${scope.region}' is wrong; expecting '${this.opts.region}'`, region: this.opts.region };
    return undefined;
  }

  private checkSkew(requestMs: number, sent: string): void {
    const now = this.now();
    if (Math.abs(now - requestMs) > MAX_SKEW_MS) {
      throw new S3Error('RequestTimeTooSkewed', undefined, { RequestTime: sent, ServerTime: iso(now), MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS) });
    }
  }

  private headerV4(req: IncomingMessage, url: Parsed, auth: string): Identity {
    const parsed = parseAuthorizationV4(auth);
    if (typeof parsed === 'string') throw new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${parsed}.`);
    const scope = parseCredentialScope(parsed.credential);
    if (!scope) throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
    const problem = this.scopeProblem(scope, url);
    if (problem) throw new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${problem.message}`, problem.region ? { Region: problem.region } : {});
    if (!parsed.signedHeaders.includes('host')) throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; the SignedHeaders must include host.');
    const cred = this.credential(scope.accessKeyId);

    const amzDateHeader = header(req, 'x-amz-date');
    const dateHeader = header(req, 'date');
    const requestMs = amzDateHeader !== undefined ? parseAmzDate(amzDateHeader) : dateHeader !== undefined ? Date.parse(dateHeader) : undefined;
    if (requestMs === undefined || Number.isNaN(requestMs)) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    const amzDate = amzDateHeader ?? formatAmzDate(requestMs);
    if (amzDate.slice(0, 8) !== scope.date) throw new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; Invalid credential date "${scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
    this.checkSkew(requestMs, amzDateHeader ?? dateHeader!);

    const payload = header(req, 'x-amz-content-sha256');
    if (payload === undefined) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    if (!PAYLOAD_MARKERS.has(payload) && !/^[0-9a-fA-F]{64}$/.test(payload)) {
      throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.', { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payload.slice(0, 80) });
    }
    // x-amz-* headers change what a request does (copy source, metadata, ACL): S3 requires them signed.
    const unsigned = Object.keys(req.headers).filter((h) => h.startsWith('x-amz-') && !parsed.signedHeaders.includes(h));
    if (unsigned.length) throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: unsigned.join(', ') });

    const headers = canonicalHeaders(req.rawHeaders, parsed.signedHeaders);
    const key = signingKey(cred.secretAccessKey, scope.date, scope.region, scope.service);
    const canonical = canonicalRequest(req.method ?? 'GET', canonicalUri(url.rawPath), canonicalQuery(url.rawQuery, NOT_SIGNED), 'text' in headers ? headers.text : '', parsed.signedHeaders.join(';'), payload);
    const sts = stringToSign(amzDate, scope.scope, canonical);
    if (!('text' in headers) || !sameSignature(sign(key, sts), parsed.signature)) throw mismatch(scope.accessKeyId, parsed.signature, sts, canonical);
    if (payload === STREAMING_SIGNED || payload === STREAMING_SIGNED_TRAILER) {
      setChunkVerification(req, { signer: new ChunkSigner(key, amzDate, scope.scope, parsed.signature), signedTrailer: payload === STREAMING_SIGNED_TRAILER });
    }
    return { user: cred.user, method: 'sigv4' };
  }

  private queryV4(req: IncomingMessage, url: Parsed): Identity {
    const q = url.query;
    const missing = PRESIGN_V4_PARAMS.filter((p) => !q.get(p));
    if (missing.length) throw new S3Error('AuthorizationQueryParametersError', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
    if (q.get('X-Amz-Algorithm') !== ALGORITHM) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    const expiresText = q.get('X-Amz-Expires')!;
    if (!/^\d{1,10}$/.test(expiresText)) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
    const expires = Number(expiresText);
    if (expires > MAX_PRESIGN_EXPIRES_S) throw new S3Error('AuthorizationQueryParametersError', `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGN_EXPIRES_S}`);
    const amzDate = q.get('X-Amz-Date')!;
    const requestMs = parseAmzDate(amzDate);
    if (requestMs === undefined) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
    const scope = parseCredentialScope(q.get('X-Amz-Credential')!);
    if (!scope) throw new S3Error('AuthorizationQueryParametersError', 'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
    const problem = this.scopeProblem(scope, url);
    if (problem) throw new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${problem.message}`, problem.region ? { Region: problem.region } : {});
    if (scope.date !== amzDate.slice(0, 8)) throw new S3Error('AuthorizationQueryParametersError', `Invalid credential date "${scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
    const signedHeaders = q.get('X-Amz-SignedHeaders')!.split(';').map((h) => h.trim().toLowerCase());
    if (!signedHeaders.includes('host')) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-SignedHeaders must include host.');
    const cred = this.credential(scope.accessKeyId);

    const provided = q.get('X-Amz-Signature')!.toLowerCase();
    const headers = canonicalHeaders(req.rawHeaders, signedHeaders);
    const payload = q.get('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD;
    const key = signingKey(cred.secretAccessKey, scope.date, scope.region, scope.service);
    const canonical = canonicalRequest(req.method ?? 'GET', canonicalUri(url.rawPath), canonicalQuery(url.rawQuery, NOT_SIGNED_PRESIGNED), 'text' in headers ? headers.text : '', signedHeaders.join(';'), payload);
    const sts = stringToSign(amzDate, scope.scope, canonical);
    if (!('text' in headers) || !sameSignature(sign(key, sts), provided)) throw mismatch(scope.accessKeyId, provided, sts, canonical);

    const now = this.now();
    if (requestMs - now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
    if (now > requestMs + expires * 1000) {
      throw new S3Error('AccessDenied', 'Request has expired', { 'X-Amz-Expires': expiresText, Expires: iso(requestMs + expires * 1000), ServerTime: iso(now) });
    }
    return { user: cred.user, method: 'sigv4' };
  }

  /** `/bucket` when the bucket is in the Host name (virtual-hosted style), since the SigV2 resource always names it. */
  private v2BucketPrefix(req: IncomingMessage): string {
    const bucket = bucketFromHost(header(req, 'host'), this.opts.virtualHostDomains);
    return bucket ? `/${bucket}` : '';
  }

  private headerV2(req: IncomingMessage, url: Parsed, accessKeyId: string, provided: string): Identity {
    const cred = this.credential(accessKeyId);
    const amzDate = header(req, 'x-amz-date');
    const date = header(req, 'date');
    const sent = amzDate ?? date;
    const requestMs = sent !== undefined ? Date.parse(sent) : NaN;
    if (Number.isNaN(requestMs)) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    this.checkSkew(requestMs, sent!);
    const resource = canonicalResourceV2(this.v2BucketPrefix(req), url.rawPath, url.rawQuery);
    const amz = canonicalAmzHeadersV2(req.rawHeaders);
    // With x-amz-date the Date line is empty; some signers put the Date header there anyway.
    const dateLines = amzDate !== undefined ? ['', ...(date !== undefined ? [date] : [])] : [date!];
    const candidates = dateLines.map((d) => stringToSignV2(req.method ?? 'GET', header(req, 'content-md5') ?? '', header(req, 'content-type') ?? '', d, amz, resource));
    if (!candidates.some((sts) => sameSignature(signV2(cred.secretAccessKey, sts), provided))) throw mismatch(accessKeyId, provided, candidates[0]);
    return { user: cred.user, method: 'sigv4' };
  }

  private queryV2(req: IncomingMessage, url: Parsed): Identity {
    const q = url.query;
    const accessKeyId = q.get('AWSAccessKeyId');
    const expires = q.get('Expires');
    // A '+' of a base64 signature that was not percent-encoded reads as a space in some decoders.
    const provided = q.get('Signature')?.replace(/ /g, '+');
    if (!accessKeyId || !expires || !provided) throw new S3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
    if (!/^\d{1,12}$/.test(expires)) throw new S3Error('AccessDenied', 'Invalid date (should be seconds since epoch): ' + expires.slice(0, 32));
    const cred = this.credential(accessKeyId);
    const resource = canonicalResourceV2(this.v2BucketPrefix(req), url.rawPath, url.rawQuery);
    const sts = stringToSignV2(req.method ?? 'GET', header(req, 'content-md5') ?? '', header(req, 'content-type') ?? '', expires, canonicalAmzHeadersV2(req.rawHeaders), resource);
    if (!sameSignature(signV2(cred.secretAccessKey, sts), provided)) throw mismatch(accessKeyId, provided, sts);
    const now = this.now();
    if (now > Number(expires) * 1000) throw new S3Error('AccessDenied', 'Request has expired', { Expires: iso(Number(expires) * 1000), ServerTime: iso(now) });
    return { user: cred.user, method: 'sigv4' };
  }
}
