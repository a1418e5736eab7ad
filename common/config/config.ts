import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { ALIASES, REGISTRY, type PropertyKey } from './registry.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

const DURATION_UNITS: Record<string, number> = {
  '': 1, ms: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
};

/** "64MB", "2KB", "1048576" → bytes (binary units, as Alluxio reads them). */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? BYTE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new ConfigError(`not a byte size: "${text}" (use e.g. 1048576, 512KB, 64MB, 1GB)`);
  return Math.floor(Number(m[1]) * unit);
}

/** "10sec", "0sec", "1min", "50ms", "250" (milliseconds) → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? DURATION_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new ConfigError(`not a duration: "${text}" (use e.g. 500ms, 10sec, 5min, 1h)`);
  return Math.floor(Number(m[1]) * unit);
}

export function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw new ConfigError(`not a boolean: "${text}" (use true or false)`);
}

function validate(key: PropertyKey, value: string): void {
  try {
    switch (key.type) {
      case 'int':
        if (!/^\s*-?\d+\s*$/.test(value)) throw new ConfigError(`not an integer: "${value}"`);
        return;
      case 'double':
        if (!/^\s*-?\d+(\.\d+)?\s*$/.test(value)) throw new ConfigError(`not a number: "${value}"`);
        return;
      case 'bool': parseBool(value); return;
      case 'bytes': parseBytes(value); return;
      case 'duration': parseDuration(value); return;
      case 'enum':
        if (!key.values?.includes(value.trim())) throw new ConfigError(`"${value}" is not one of ${key.values?.join(', ')}`);
        return;
      case 'string': return;
    }
  } catch (err) {
    throw new ConfigError(`${key.name}: ${(err as Error).message}`);
  }
}

/** Java-properties subset Alluxio users write: `key=value` or `key: value`, `#`/`!` comments. */
export function parseProperties(text: string, source: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) return;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`${source}:${i + 1}: expected key=value, got "${line}"`);
    out.set(m[1], m[2].trim());
  });
  return out;
}

export function lookupKey(name: string): PropertyKey {
  const key = REGISTRY.get(ALIASES.get(name) ?? name);
  if (!key) throw new ConfigError(`unknown property key: ${name}`);
  return key;
}

/**
 * A fully defaulted, frozen view of the configuration, compiled once in a process's main.
 * Getters are typed by the registry entry; asking for an unregistered key is a bug and throws.
 */
export class Config {
  private readonly values: ReadonlyMap<string, string>;

  constructor(overrides: ReadonlyMap<string, string> = new Map()) {
    const values = new Map<string, string>();
    for (const [name, key] of REGISTRY) values.set(name, key.default);
    for (const [name, value] of overrides) {
      const key = lookupKey(name);
      validate(key, value);
      values.set(key.name, value);
    }
    this.values = values;
    Object.freeze(this);
  }

  /** Only the values that differ from the defaults, for handing to child processes. */
  overrides(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [name, value] of this.values) if (REGISTRY.get(name)!.default !== value) out.set(name, value);
    return out;
  }

  with(more: ReadonlyMap<string, string> | Record<string, string>): Config {
    const merged = new Map(this.overrides());
    for (const [k, v] of more instanceof Map ? more : Object.entries(more)) merged.set(k, v);
    return new Config(merged);
  }

  raw(name: string): string {
    return this.values.get(lookupKey(name).name)!;
  }

  string(name: string): string { return this.typed(name, 'string', 'enum'); }
  int(name: string): number { return parseInt(this.typed(name, 'int'), 10); }
  double(name: string): number { return parseFloat(this.typed(name, 'double')); }
  bool(name: string): boolean { return parseBool(this.typed(name, 'bool')); }
  bytes(name: string): number { return parseBytes(this.typed(name, 'bytes')); }
  durationMs(name: string): number { return parseDuration(this.typed(name, 'duration')); }

  /** A path-valued key resolved against alluxio.home; `fallback` when the key is empty. */
  path(name: string, fallback?: () => string): string {
    const v = this.string(name);
    if (v === '' && fallback) return fallback();
    return path.resolve(this.values.get('alluxio.home')!, v);
  }

  dataDir(): string { return this.path('alluxio.data.dir'); }

  private typed(name: string, ...types: string[]): string {
    const key = lookupKey(name);
    if (!types.includes(key.type)) throw new ConfigError(`${name} is of type ${key.type}, not ${types.join('/')}`);
    return this.values.get(key.name)!;
  }
}

/**
 * Loads `$ALLUXIO_CONF_DIR/alluxio-site.properties` (when the variable is set and the file
 * exists), then applies `--conf key=value` overrides. Unknown keys are rejected by name.
 */
export function loadConfig(opts: { confDir?: string; overrides?: string[] } = {}): Config {
  const merged = new Map<string, string>();
  const confDir = opts.confDir;
  if (confDir) {
    const file = path.join(confDir, 'alluxio-site.properties');
    if (existsSync(file)) {
      for (const [k, v] of parseProperties(readFileSync(file, 'utf8'), file)) {
        lookupKey(k);
        merged.set(k, v);
      }
    }
  }
  for (const pair of opts.overrides ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--conf expects key=value, got "${pair}"`);
    merged.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return new Config(merged);
}
