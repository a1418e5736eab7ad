/** The path-level write policy document (common/path-config.ts): parse, resolve, set, unset. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultPathConfig,
  parsePathConfig,
  PathConfigError,
  POLICY_MODES,
  resolvePolicy,
  serializePathConfig,
  setRule,
  unsetRule,
  type PathConfig,
} from '../../common/path-config.js';

const EXAMPLE = `{"default": {"policyMode": "WRITE_THROUGH"}, "rules": [{"path": "/ckpt", "policyMode": "WRITE_BACK", "writeReplicas": 2}, {"path": "/shuffle", "policyMode": "TRANSIENT", "writeReplicas": 2}]}`;

function refused(text: string, reason: RegExp): void {
  assert.throws(() => parsePathConfig(text), (err: unknown) => {
    assert.ok(err instanceof PathConfigError, `expected PathConfigError, got ${String(err)}`);
    assert.match(err.message, reason);
    assert.ok(!err.message.includes('\n'), `one line: ${JSON.stringify(err.message)}`);
    return true;
  }, text);
}

describe('parsePathConfig', () => {
  it('accepts the documented example as is', () => {
    assert.deepEqual(parsePathConfig(EXAMPLE), {
      default: { policyMode: 'WRITE_THROUGH' },
      rules: [
        { path: '/ckpt', policyMode: 'WRITE_BACK', writeReplicas: 2 },
        { path: '/shuffle', policyMode: 'TRANSIENT', writeReplicas: 2 },
      ],
    });
  });

  const valid: Array<[string, string, PathConfig]> = [
    ['an empty object is everything WRITE_THROUGH', '{}', { default: { policyMode: 'WRITE_THROUGH' }, rules: [] }],
    ['the default without a mode is WRITE_THROUGH', '{"default": {"writeReplicas": 2}}', { default: { policyMode: 'WRITE_THROUGH', writeReplicas: 2 }, rules: [] }],
    ['trailing slashes are removed', '{"rules": [{"path": "/ckpt/", "policyMode": "WRITE_BACK"}, {"path": "/a/b//", "policyMode": "NO_CACHE"}]}',
      { default: { policyMode: 'WRITE_THROUGH' }, rules: [{ path: '/ckpt', policyMode: 'WRITE_BACK' }, { path: '/a/b', policyMode: 'NO_CACHE' }] }],
    ['every mode is accepted', JSON.stringify({ rules: POLICY_MODES.map((m, i) => ({ path: `/p${i}`, policyMode: m })) }),
      { default: { policyMode: 'WRITE_THROUGH' }, rules: POLICY_MODES.map((m, i) => ({ path: `/p${i}`, policyMode: m })) }],
    ['unknown fields are kept (top level, default, rules)', '{"comment": "x", "default": {"policyMode": "READ_ONLY", "owner": "ops"}, "rules": [{"path": "/a", "policyMode": "WRITE_BACK", "ttl": "1h", "tags": {"k": 1}}]}',
      { default: { policyMode: 'READ_ONLY', owner: 'ops' }, rules: [{ path: '/a', policyMode: 'WRITE_BACK', ttl: '1h', tags: { k: 1 } }], comment: 'x' }],
    ['large replica counts are integers too', '{"rules": [{"path": "/t", "policyMode": "TRANSIENT", "writeReplicas": 5}]}',
      { default: { policyMode: 'WRITE_THROUGH' }, rules: [{ path: '/t', policyMode: 'TRANSIENT', writeReplicas: 5 }] }],
  ];
  for (const [name, text, expected] of valid) {
    it(`accepts: ${name}`, () => assert.deepEqual(parsePathConfig(text), expected));
  }

  const invalid: Array<[string, string, RegExp]> = [
    ['empty text', '', /^not valid JSON at line 1, column 1 \(position 0\): unexpected end of input$/],
    ['a truncated document', '{"rules": [', /^not valid JSON at line 1, column 12 \(position 11\): unexpected end of input$/],
    ['a trailing comma', '{"default": {"policyMode": "WRITE_BACK"},}', /^not valid JSON at line 1, column 42 \(position 41\): /],
    ['a missing comma on line 4', '{\n  "rules": [\n    {"path": "/a", "policyMode": "WRITE_BACK"}\n    {"path": "/b", "policyMode": "WRITE_BACK"}\n  ]\n}',
      /^not valid JSON at line 4, column 5 \(position \d+\): Expected ',' or '\]' after array element$/],
    ['a bare word (V8 names no position)', '{\n  "default": {"policyMode": WRITE_BACK}\n}', /^not valid JSON at line 2, column 29 \(position 30\): Unexpected token 'W'$/],
    ['text after the document', '{} {}', /^not valid JSON at line 1, column 4 \(position 3\): Unexpected non-whitespace character after the document$/],
    ['a list', '[]', /must be a JSON object/],
    ['null', 'null', /must be a JSON object/],
    ['default not an object', '{"default": "WRITE_BACK"}', /^"default" must be an object, got "WRITE_BACK"$/],
    ['rules not a list', '{"rules": {"path": "/a"}}', /^"rules" must be a list/],
    ['a rule not an object', '{"rules": ["/a"]}', /^rules\[0\] must be an object, got "\/a"$/],
    ['an unknown mode', '{"rules": [{"path": "/a", "policyMode": "WRITE_FAST"}]}',
      /^rules\[0\]\.policyMode "WRITE_FAST" is not a policy mode \(expected one of WRITE_THROUGH, WRITE_BACK, TRANSIENT, READ_ONLY, NO_CACHE\)$/],
    ['a lower-case mode', '{"default": {"policyMode": "write_back"}}', /^default\.policyMode "write_back" is not a policy mode \(expected one of WRITE_THROUGH, /],
    ['a rule without a mode', '{"rules": [{"path": "/a"}]}', /^rules\[0\]\.policyMode is missing \(expected one of /],
    ['writeReplicas 0', '{"rules": [{"path": "/a", "policyMode": "WRITE_BACK", "writeReplicas": 0}]}', /^rules\[0\]\.writeReplicas must be an integer >= 1, got 0$/],
    ['writeReplicas negative', '{"rules": [{"path": "/a", "policyMode": "WRITE_BACK", "writeReplicas": -2}]}', /writeReplicas must be an integer >= 1, got -2$/],
    ['writeReplicas fractional', '{"rules": [{"path": "/a", "policyMode": "WRITE_BACK", "writeReplicas": 1.5}]}', /writeReplicas must be an integer >= 1, got 1\.5$/],
    ['writeReplicas a string', '{"rules": [{"path": "/a", "policyMode": "WRITE_BACK", "writeReplicas": "2"}]}', /writeReplicas must be an integer >= 1, got "2"$/],
    ['writeReplicas null', '{"default": {"writeReplicas": null}}', /^default\.writeReplicas must be an integer >= 1, got null$/],
    ['a rule without a path', '{"rules": [{"policyMode": "WRITE_BACK"}]}', /^rules\[0\]\.path is missing$/],
    ['a path not a string', '{"rules": [{"path": 7, "policyMode": "WRITE_BACK"}]}', /^rules\[0\]\.path must be a string, got 7$/],
    ['a relative path', '{"rules": [{"path": "ckpt", "policyMode": "WRITE_BACK"}]}', /^rules\[0\]\.path "ckpt" must start with '\/'$/],
    ['the root as a rule', '{"rules": [{"path": "//", "policyMode": "WRITE_BACK"}]}', /^rules\[0\]\.path "\/\/" is the whole namespace: set "default" instead$/],
    ['duplicate paths after normalisation', '{"rules": [{"path": "/a", "policyMode": "WRITE_BACK"}, {"path": "/b", "policyMode": "NO_CACHE"}, {"path": "/a/", "policyMode": "TRANSIENT"}]}',
      /^rules\[2\]\.path "\/a" duplicates rules\[0\]\.path$/],
  ];
  for (const [name, text, reason] of invalid) {
    it(`refuses with the reason: ${name}`, () => refused(text, reason));
  }

  it('never echoes a long document into the reason', () => {
    const text = JSON.stringify({ rules: Array.from({ length: 50 }, (_, i) => ({ path: `/p${i}`, policyMode: 'WRITE_BACK' })) }, null, 2).replace('"/p49"', "'/p49'");
    refused(text, /^not valid JSON at line \d+, column \d+ \(position \d+\): /);
    assert.ok((() => { try { parsePathConfig(text); } catch (e) { return (e as Error).message.length < 200; } return false; })());
  });
});

describe('resolvePolicy', () => {
  const example = parsePathConfig(EXAMPLE);
  const cases: Array<[string, string, string, number]> = [
    ['/ckpt/model.bin', '/ckpt', 'WRITE_BACK', 2],
    ['/ckpt', '/ckpt', 'WRITE_BACK', 2],
    ['/ckpt/', '/ckpt', 'WRITE_BACK', 2],
    ['/ckpt/a/b/c', '/ckpt', 'WRITE_BACK', 2],
    ['/shuffle/x', '/shuffle', 'TRANSIENT', 2],
    ['/other', '/', 'WRITE_THROUGH', 1],
    ['/', '/', 'WRITE_THROUGH', 1],
    ['/ckptx', '/', 'WRITE_THROUGH', 1],
    ['/ckpt.bak/x', '/', 'WRITE_THROUGH', 1],
    ['/shuffl', '/', 'WRITE_THROUGH', 1],
    ['ckpt/model.bin', '/ckpt', 'WRITE_BACK', 2],
  ];
  for (const [p, rule, mode, replicas] of cases) {
    it(`the example resolves ${p} → ${mode} (${replicas})`, () => {
      assert.deepEqual(resolvePolicy(example, p), { path: rule, policyMode: mode, writeReplicas: replicas });
    });
  }

  it('picks the longest matching prefix on segment boundaries, whatever the rule order', () => {
    const rules = [
      { path: '/a', policyMode: 'WRITE_BACK' },
      { path: '/a/b/c', policyMode: 'TRANSIENT', writeReplicas: 3 },
      { path: '/a/b', policyMode: 'NO_CACHE' },
      { path: '/a/bc', policyMode: 'READ_ONLY' },
    ];
    for (const order of [rules, [...rules].reverse()]) {
      const c = parsePathConfig(JSON.stringify({ default: { policyMode: 'WRITE_THROUGH' }, rules: order }));
      const at = (p: string) => { const r = resolvePolicy(c, p); return `${r.path} ${r.policyMode} ${r.writeReplicas}`; };
      assert.equal(at('/a'), '/a WRITE_BACK 1');
      assert.equal(at('/a/x'), '/a WRITE_BACK 1');
      assert.equal(at('/a/b'), '/a/b NO_CACHE 1');
      assert.equal(at('/a/b/x'), '/a/b NO_CACHE 1');
      assert.equal(at('/a/b/c/d'), '/a/b/c TRANSIENT 3');
      assert.equal(at('/a/b/cd'), '/a/b NO_CACHE 1');
      assert.equal(at('/a/bc/d'), '/a/bc READ_ONLY 1');
      assert.equal(at('/a/bcd'), '/a WRITE_BACK 1');
      assert.equal(at('/ab'), '/ WRITE_THROUGH 1');
    }
  });

  it('carries the extra fields of the rule (or the default) that matched', () => {
    const c = parsePathConfig('{"default": {"policyMode": "NO_CACHE", "writeReplicas": 2, "owner": "ops"}, "rules": [{"path": "/a", "policyMode": "WRITE_BACK", "ttl": "1h"}]}');
    assert.deepEqual(resolvePolicy(c, '/a/x'), { path: '/a', policyMode: 'WRITE_BACK', writeReplicas: 1, ttl: '1h' });
    assert.deepEqual(resolvePolicy(c, '/b'), { path: '/', policyMode: 'NO_CACHE', writeReplicas: 2, owner: 'ops' });
  });

  it('the built-in default resolves everything to WRITE_THROUGH with one replica', () => {
    assert.deepEqual(resolvePolicy(defaultPathConfig(), '/bucket/key'), { path: '/', policyMode: 'WRITE_THROUGH', writeReplicas: 1 });
  });
});

describe('serializePathConfig', () => {
  it('is pretty JSON with a trailing newline that parses back to the same document', () => {
    const c = parsePathConfig('{"x": 1, "rules": [{"ttl": 3, "policyMode": "WRITE_BACK", "path": "/ckpt/", "writeReplicas": 2}]}');
    const text = serializePathConfig(c);
    assert.ok(text.endsWith('}\n'));
    assert.match(text, /^ {6}"policyMode": "WRITE_BACK",$/m);
    assert.deepEqual(parsePathConfig(text), c);
    assert.equal(serializePathConfig(parsePathConfig(text)), text, 'stable');
    // default first, then rules, then unknown fields; a rule starts with its path
    assert.deepEqual(Object.keys(c), ['default', 'rules', 'x']);
    assert.deepEqual(Object.keys(c.rules[0]), ['path', 'policyMode', 'writeReplicas', 'ttl']);
  });
});

describe('setRule / unsetRule', () => {
  const base = parsePathConfig('{"default": {"policyMode": "WRITE_THROUGH"}, "rules": [{"path": "/ckpt", "policyMode": "WRITE_BACK", "writeReplicas": 2, "note": "keep"}]}');
  const before = structuredClone(base);

  it('adds a rule at the end, with replicas when given', () => {
    const c = setRule(base, '/shuffle/', 'TRANSIENT', 3);
    assert.deepEqual(c.rules.map((r) => [r.path, r.policyMode, r.writeReplicas]), [['/ckpt', 'WRITE_BACK', 2], ['/shuffle', 'TRANSIENT', 3]]);
    assert.deepEqual(setRule(base, '/ro', 'READ_ONLY').rules[1], { path: '/ro', policyMode: 'READ_ONLY' });
    assert.deepEqual(base, before, 'the input is not changed');
  });

  it('changes an existing rule in place: replicas and extra fields stay unless replicas are given', () => {
    assert.deepEqual(setRule(base, '/ckpt', 'TRANSIENT').rules, [{ path: '/ckpt', policyMode: 'TRANSIENT', writeReplicas: 2, note: 'keep' }]);
    assert.deepEqual(setRule(base, '/ckpt/', 'WRITE_BACK', 1).rules, [{ path: '/ckpt', policyMode: 'WRITE_BACK', writeReplicas: 1, note: 'keep' }]);
    assert.deepEqual(base, before);
  });

  it('"/" is the default', () => {
    const c = setRule(base, '/', 'NO_CACHE');
    assert.deepEqual(c.default, { policyMode: 'NO_CACHE' });
    assert.equal(c.rules.length, 1);
    assert.deepEqual(unsetRule(setRule(base, '/', 'WRITE_BACK', 2), '/').default, { policyMode: 'WRITE_THROUGH' });
  });

  it('refuses bad input with the reason', () => {
    assert.throws(() => setRule(base, '/a', 'FAST'), (e: unknown) => e instanceof PathConfigError && /^the policy "FAST" is not a policy mode \(expected one of WRITE_THROUGH, /.test(e.message));
    assert.throws(() => setRule(base, '/a', 'WRITE_BACK', 0), (e: unknown) => e instanceof PathConfigError && e.message === 'the replica count must be an integer >= 1, got 0');
    assert.throws(() => setRule(base, '/a', 'WRITE_BACK', Number.NaN), /the replica count must be an integer >= 1, got NaN/);
    assert.throws(() => setRule(base, 'a', 'WRITE_BACK'), (e: unknown) => e instanceof PathConfigError && e.message === `path "a" must start with '/'`);
    assert.throws(() => unsetRule(base, '/nope'), (e: unknown) => e instanceof PathConfigError && e.message === 'no rule for /nope');
  });

  it('unset removes the rule; resolution falls back to a shorter one or the default', () => {
    const c = setRule(base, '/ckpt/sub', 'NO_CACHE');
    assert.equal(resolvePolicy(c, '/ckpt/sub/x').policyMode, 'NO_CACHE');
    const d = unsetRule(c, '/ckpt/sub/');
    assert.equal(resolvePolicy(d, '/ckpt/sub/x').policyMode, 'WRITE_BACK');
    assert.equal(resolvePolicy(unsetRule(d, '/ckpt'), '/ckpt/sub/x').policyMode, 'WRITE_THROUGH');
    assert.equal(c.rules.length, 2, 'the input is not changed');
  });

  it('the results are valid documents', () => {
    const c = unsetRule(setRule(setRule(base, '/a', 'WRITE_BACK', 2), '/b', 'TRANSIENT'), '/a');
    assert.deepEqual(parsePathConfig(serializePathConfig(c)), c);
  });
});
