/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests that
 * scrape /metrics: HELP and TYPE lines, samples with escaped label values, NaN and ±Inf,
 * optional timestamps. Anything malformed throws with the line, so a broken exposition fails
 * the test instead of reading as "no such metric".
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Family name → counter | gauge | histogram | summary | untyped. */
  types: Map<string, string>;
  help: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(text: string, line: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad sample value "${text}" in: ${line}`);
  return Number(text);
}

function parseLabels(s: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  const skipSpaces = () => { while (s[i] === ' ') i++; };
  for (;;) {
    skipSpaces();
    if (s[i] === '}') return { labels, rest: s.slice(i + 1) };
    const m = LABEL_NAME.exec(s.slice(i));
    if (!m) throw new Error(`bad label name at ${i} in: ${line}`);
    const name = m[0];
    i += name.length;
    skipSpaces();
    if (s[i] !== '=') throw new Error(`expected = after label ${name} in: ${line}`);
    i++;
    skipSpaces();
    if (s[i] !== '"') throw new Error(`expected a quoted value for label ${name} in: ${line}`);
    i++;
    let value = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (c === '"') { i++; break; }
      if (c === '\\') {
        const n = s[i + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new Error(`bad escape \\${n} in: ${line}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    if (name in labels) throw new Error(`label ${name} repeated in: ${line}`);
    labels[name] = value;
    skipSpaces();
    if (s[i] === ',') { i++; continue; }
    if (s[i] === '}') return { labels, rest: s.slice(i + 1) };
    throw new Error(`expected , or } at ${i} in: ${line}`);
  }
}

/** The family a sample name belongs to (histogram and summary series carry suffixes). */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count', '_created', '_total']) {
    if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
  }
  return undefined;
}

export function parsePrometheus(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      if (m[1] === 'TYPE') {
        const t = m[3] ?? '';
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(t)) throw new Error(`bad TYPE in: ${line}`);
        if (types.has(m[2])) throw new Error(`TYPE of ${m[2]} given twice`);
        types.set(m[2], t);
      } else {
        help.set(m[2], (m[3] ?? '').replace(/\\n/g, '\n').replace(/\\\\/g, '\\'));
      }
      continue;
    }
    const nm = NAME.exec(line);
    if (!nm) throw new Error(`bad metric name in: ${line}`);
    const name = nm[0];
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`expected a value (and optional timestamp) in: ${line}`);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp in: ${line}`);
    if (!familyOf(name, types)) throw new Error(`sample ${name} has no TYPE line before it`);
    samples.push({ name, labels, value: parseValue(parts[0], line) });
  }
  return { samples, types, help };
}

/** Samples of `name` whose labels include every pair of `match`. */
export function select(e: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The sum of the matching samples' values; 0 when none match (a counter never incremented has no series). */
export function sum(e: Exposition, name: string, match: Record<string, string> = {}): number {
  return select(e, name, match).reduce((a, s) => a + s.value, 0);
}

/** The one sample that matches; throws when there is none or more than one. */
export function single(e: Exposition, name: string, match: Record<string, string> = {}): number {
  const found = select(e, name, match);
  if (found.length !== 1) throw new Error(`expected exactly one ${name}${JSON.stringify(match)}, found ${found.length}`);
  return found[0].value;
}

export async function scrape(url: string): Promise<Exposition> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  const type = r.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain')) throw new Error(`GET ${url}: content-type ${type}, not the text exposition format`);
  return parsePrometheus(await r.text());
}
