/**
 * Path-level write policies (seed 004): the document users edit, its validation, and the
 * longest-prefix resolution of a path to its policy. Pure: no I/O, shared by the coordinator
 * (which keeps the document), the workers (which apply it) and the CLI (which edits it).
 *
 * The document:
 *
 *     {"default": {"policyMode": "WRITE_THROUGH"},
 *      "rules": [{"path": "/ckpt", "policyMode": "WRITE_BACK", "writeReplicas": 2}]}
 *
 * Fields this module does not know are kept as they are (top level, default and rules).
 */

export const POLICY_MODES = ['WRITE_THROUGH', 'WRITE_BACK', 'TRANSIENT', 'READ_ONLY', 'NO_CACHE'] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];

export const DEFAULT_POLICY_MODE: PolicyMode = 'WRITE_THROUGH';
export const DEFAULT_WRITE_REPLICAS = 1;

/** A policy: the default, or the part of a rule after its path. */
export interface PolicySpec {
  policyMode: PolicyMode;
  /** Copies of unpersisted data (meaningful for WRITE_BACK and TRANSIENT); absent means 1. */
  writeReplicas?: number;
  [field: string]: unknown;
}

export interface PathRule extends PolicySpec {
  /** Starts with '/', no trailing '/', never '/' itself (that is `default`). */
  path: string;
}

export interface PathConfig {
  default: PolicySpec;
  rules: PathRule[];
  [field: string]: unknown;
}

/** The policy that applies to a path. */
export interface ResolvedPathPolicy {
  /** The rule that matched, or '/' for the default. */
  path: string;
  policyMode: PolicyMode;
  writeReplicas: number;
  /** Fields of the matched rule (or the default) this module does not know. */
  [field: string]: unknown;
}

/** Why a document (or a rule change) is refused; the message is one line, without a prefix. */
export class PathConfigError extends Error {
  override name = 'PathConfigError';
}

export function isPolicyMode(v: unknown): v is PolicyMode {
  return typeof v === 'string' && (POLICY_MODES as readonly string[]).includes(v);
}

/** The document a cluster starts with: everything WRITE_THROUGH. */
export function defaultPathConfig(): PathConfig {
  return { default: { policyMode: DEFAULT_POLICY_MODE }, rules: [] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function checkMode(v: unknown, label: string): PolicyMode {
  if (isPolicyMode(v)) return v;
  if (v === undefined) throw new PathConfigError(`${label} is missing (expected one of ${POLICY_MODES.join(', ')})`);
  throw new PathConfigError(`${label} ${show(v)} is not a policy mode (expected one of ${POLICY_MODES.join(', ')})`);
}

function checkReplicas(v: unknown, label: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1) return v;
  throw new PathConfigError(`${label} must be an integer >= 1, got ${show(v)}`);
}

/** A rule path with trailing slashes removed; throws on one that is not absolute or is '/'. */
export function normalizeRulePath(p: unknown, where = 'path'): string {
  if (typeof p !== 'string') {
    throw new PathConfigError(p === undefined ? `${where} is missing` : `${where} must be a string, got ${show(p)}`);
  }
  if (!p.startsWith('/')) throw new PathConfigError(`${where} ${show(p)} must start with '/'`);
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') throw new PathConfigError(`${where} ${show(p)} is the whole namespace: set "default" instead`);
  return trimmed;
}

function checkSpec(raw: Record<string, unknown>, where: string, modeRequired: boolean): PolicySpec {
  const { policyMode, writeReplicas, ...extra } = raw;
  const spec: PolicySpec = {
    policyMode: policyMode === undefined && !modeRequired ? DEFAULT_POLICY_MODE : checkMode(policyMode, `${where}.policyMode`),
  };
  if (writeReplicas !== undefined) spec.writeReplicas = checkReplicas(writeReplicas, `${where}.writeReplicas`);
  // Spread, not assign: an extra "__proto__" field stays a field.
  return { ...spec, ...extra };
}

/**
 * Validates a parsed document and returns it normalised (rule paths without trailing slashes,
 * the default's policyMode filled in, keys in a stable order). Throws PathConfigError.
 */
export function validatePathConfig(raw: unknown): PathConfig {
  if (!isObject(raw)) {
    throw new PathConfigError('the document must be a JSON object like {"default": {"policyMode": "WRITE_THROUGH"}, "rules": [...]}');
  }
  const { default: rawDefault, rules: rawRules, ...extra } = raw;
  if (rawDefault !== undefined && !isObject(rawDefault)) throw new PathConfigError(`"default" must be an object, got ${show(rawDefault)}`);
  if (rawRules !== undefined && !Array.isArray(rawRules)) throw new PathConfigError(`"rules" must be a list, got ${show(rawRules)}`);
  const def = checkSpec(rawDefault ?? {}, 'default', false);
  const seen = new Map<string, number>();
  const rules = (rawRules ?? []).map((r: unknown, i: number): PathRule => {
    const where = `rules[${i}]`;
    if (!isObject(r)) throw new PathConfigError(`${where} must be an object, got ${show(r)}`);
    const { path: rawPath, ...rest } = r;
    const path = normalizeRulePath(rawPath, `${where}.path`);
    const dup = seen.get(path);
    if (dup !== undefined) throw new PathConfigError(`${where}.path ${show(path)} duplicates rules[${dup}].path`);
    seen.set(path, i);
    return { path, ...checkSpec(rest, where, true) };
  });
  return { default: def, rules, ...extra };
}

// V8 messages look like "Expected ',' or '}' after property value in JSON at position 42" or
// "Unexpected token 'x', "<the whole text>" is not valid JSON" (no position, multi-line text).
function jsonErrorPosition(text: string, message: string): number {
  const m = /at position (\d+)/.exec(message);
  if (m) return Number(m[1]);
  if (/Unexpected end of JSON input/.test(message)) return text.length;
  // The error is where the longest prefix that could still become valid JSON ends.
  const viable = (n: number): boolean => {
    try {
      JSON.parse(text.slice(0, n));
      return true;
    } catch (err) {
      const msg = (err as Error).message;
      if (/Unexpected end of JSON input/.test(msg)) return true;
      const p = /at position (\d+)/.exec(msg);
      return p !== null && Number(p[1]) >= n;
    }
  };
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (viable(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function jsonErrorReason(text: string, err: Error): string {
  const pos = Math.min(jsonErrorPosition(text, err.message), text.length);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - (before.lastIndexOf('\n') + 1) + 1;
  let what = err.message
    .replace(/, .*is not valid JSON$/s, '')
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/ after JSON at position \d+.*$/s, ' after the document')
    .replace(/^Unexpected end of JSON input$/, 'unexpected end of input');
  if (what.includes('\n')) what = 'syntax error';
  return `not valid JSON at line ${line}, column ${column} (position ${pos}): ${what}`;
}

/** Parses and validates the JSON text of a document. Throws PathConfigError with the reason. */
export function parsePathConfig(text: string): PathConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PathConfigError(jsonErrorReason(text, err as Error));
  }
  return validatePathConfig(raw);
}

/** Pretty JSON (two-space indent, trailing newline): what `show` prints and `edit` opens. */
export function serializePathConfig(config: PathConfig): string {
  return JSON.stringify(config, null, 2) + '\n';
}

function matches(rulePath: string, path: string): boolean {
  return path === rulePath || path.startsWith(`${rulePath}/`);
}

/**
 * The policy for `path` ('/bucket/key…'; a missing leading '/' is implied): the rule with the
 * longest path that equals it or is a prefix of it on a '/' boundary ('/ckpt' matches '/ckpt'
 * and '/ckpt/x', not '/ckptx'), else the default.
 */
export function resolvePolicy(config: PathConfig, path: string): ResolvedPathPolicy {
  const p = path.startsWith('/') ? path : `/${path}`;
  let best: PathRule | undefined;
  for (const r of config.rules) if (matches(r.path, p) && (!best || r.path.length > best.path.length)) best = r;
  const { path: _path, policyMode, writeReplicas, ...extra } = best ?? { path: '/', ...config.default };
  return { path: best ? best.path : '/', policyMode, writeReplicas: writeReplicas ?? DEFAULT_WRITE_REPLICAS, ...extra };
}

/**
 * A copy of `config` where `path` has `mode` (and `replicas`, when given; otherwise the rule
 * keeps the replicas it had). '/' sets the default. New rules go last; extra fields stay.
 */
export function setRule(config: PathConfig, path: string, mode: string, replicas?: number): PathConfig {
  const policyMode = checkMode(mode, 'the policy');
  if (replicas !== undefined) checkReplicas(replicas, 'the replica count');
  const next = structuredClone(config);
  const apply = (spec: PolicySpec): void => {
    spec.policyMode = policyMode;
    if (replicas !== undefined) spec.writeReplicas = replicas;
  };
  if (typeof path === 'string' && path.startsWith('/') && path.replace(/\/+$/, '') === '') {
    apply(next.default);
    return validatePathConfig(next);
  }
  const p = normalizeRulePath(path);
  const existing = next.rules.find((r) => r.path === p);
  if (existing) apply(existing);
  else next.rules.push({ path: p, policyMode, ...(replicas !== undefined ? { writeReplicas: replicas } : {}) });
  return validatePathConfig(next);
}

/**
 * A copy of `config` without the rule for `path`; '/' resets the default to WRITE_THROUGH with
 * one replica. Throws PathConfigError when there is no such rule.
 */
export function unsetRule(config: PathConfig, path: string): PathConfig {
  const next = structuredClone(config);
  if (typeof path === 'string' && path.startsWith('/') && path.replace(/\/+$/, '') === '') {
    const { policyMode: _m, writeReplicas: _r, ...extra } = next.default;
    next.default = { policyMode: DEFAULT_POLICY_MODE, ...extra };
    return next;
  }
  const p = normalizeRulePath(path);
  const i = next.rules.findIndex((r) => r.path === p);
  if (i < 0) throw new PathConfigError(`no rule for ${p}`);
  next.rules.splice(i, 1);
  return next;
}
