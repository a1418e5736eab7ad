import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Config, ConfigError, loadConfig, parseBool, parseBytes, parseDuration, parseProperties,
} from '../../common/config/config.js';
import { REGISTRY } from '../../common/config/registry.js';

const KB = 1024;
const MB = 1024 ** 2;
const GB = 1024 ** 3;

/** Asserts a ConfigError whose message contains every one of `parts`. */
function throwsConfigError(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    for (const p of parts) assert.ok(err.message.includes(p), `message ${JSON.stringify(err.message)} should name ${JSON.stringify(p)}`);
    return true;
  });
}

describe('parseBytes', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['1048576', 1048576],
    ['2KB', 2 * KB],
    ['2kb', 2 * KB],
    ['512KB', 512 * KB],
    ['64MB', 64 * MB],
    ['1GB', GB],
    ['1.5MB', 1.5 * MB],
    ['5MB', 5 * MB],
    ['1TB', 1024 ** 4],
    ['1MiB', MB],
    ['10B', 10],
    [' 64 MB ', 64 * MB],
  ];
  for (const [text, bytes] of cases) it(`${JSON.stringify(text)} = ${bytes}`, () => assert.equal(parseBytes(text), bytes));

  for (const bad of ['', 'MB', '-1', '1XB', '1 M B', 'ten', '1e6', '0x10', '1,000']) {
    it(`${JSON.stringify(bad)} is a ConfigError`, () => throwsConfigError(() => parseBytes(bad), bad));
  }
});

describe('parseDuration', () => {
  const cases: [string, number][] = [
    ['10sec', 10_000],
    ['0sec', 0],
    ['1min', 60_000],
    ['50ms', 50],
    ['250', 250],
    ['1h', 3_600_000],
    ['5s', 5000],
    ['2minutes', 120_000],
    ['1day', 86_400_000],
    ['1.5sec', 1500],
    ['10SEC', 10_000],
  ];
  for (const [text, ms] of cases) it(`${JSON.stringify(text)} = ${ms} ms`, () => assert.equal(parseDuration(text), ms));

  for (const bad of ['', 'sec', '-1sec', '10 fortnights', '1h30m', 'soon']) {
    it(`${JSON.stringify(bad)} is a ConfigError`, () => throwsConfigError(() => parseDuration(bad), bad));
  }
});

describe('parseBool', () => {
  const cases: [string, boolean][] = [['true', true], ['false', false], ['TRUE', true], [' False ', false]];
  for (const [text, value] of cases) it(`${JSON.stringify(text)} = ${value}`, () => assert.equal(parseBool(text), value));
  for (const bad of ['', 'yes', '1', 'on', 'truee']) {
    it(`${JSON.stringify(bad)} is a ConfigError`, () => throwsConfigError(() => parseBool(bad)));
  }
});

describe('parseProperties', () => {
  it('reads key=value and key: value, skipping comments and blank lines', () => {
    const text = [
      '# a comment',
      '! another comment',
      '',
      '   ',
      'alluxio.worker.s3.port=30000',
      'alluxio.worker.hostname: 10.0.0.1',
      '  alluxio.log.level = debug  ',
      'alluxio.underfs.s3.endpoint=http://host:9000/path?x=1',
      'alluxio.worker.id=',
      '    # indented comment',
    ].join('\n');
    assert.deepEqual([...parseProperties(text, 'site.properties')], [
      ['alluxio.worker.s3.port', '30000'],
      ['alluxio.worker.hostname', '10.0.0.1'],
      ['alluxio.log.level', 'debug'],
      ['alluxio.underfs.s3.endpoint', 'http://host:9000/path?x=1'],
      ['alluxio.worker.id', ''],
    ]);
  });

  it('accepts CRLF line endings', () => {
    assert.deepEqual([...parseProperties('a.b=1\r\nc.d=2\r\n', 'f')], [['a.b', '1'], ['c.d', '2']]);
  });

  it('a later line wins', () => {
    assert.deepEqual([...parseProperties('a.b=1\na.b=2\n', 'f')], [['a.b', '2']]);
  });

  it('names the file and line of a malformed line', () => {
    throwsConfigError(() => parseProperties('# ok\na.b=1\njustakey\n', '/etc/alluxio/alluxio-site.properties'), '/etc/alluxio/alluxio-site.properties:3', 'justakey');
    throwsConfigError(() => parseProperties('=value\n', 'x.properties'), 'x.properties:1');
  });
});

describe('loadConfig', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'config-test-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const writeSite = async (sub: string, text: string): Promise<string> => {
    const confDir = path.join(dir, sub);
    await fs.mkdir(confDir, { recursive: true });
    await fs.writeFile(path.join(confDir, 'alluxio-site.properties'), text);
    return confDir;
  };

  it('without a conf dir gives the registry defaults', () => {
    const conf = loadConfig();
    assert.equal(conf.int('alluxio.worker.s3.port'), 29998);
    assert.deepEqual([...conf.overrides()], []);
  });

  it('a conf dir without alluxio-site.properties gives the defaults', async () => {
    const empty = path.join(dir, 'empty');
    await fs.mkdir(empty, { recursive: true });
    assert.deepEqual([...loadConfig({ confDir: empty }).overrides()], []);
  });

  it('reads alluxio-site.properties, and --conf overrides win over it', async () => {
    const confDir = await writeSite('site', [
      '# site file',
      'alluxio.worker.s3.port=30001',
      'alluxio.worker.page.store.page.size: 4MB',
      'alluxio.log.level=debug',
    ].join('\n'));
    const conf = loadConfig({ confDir, overrides: ['alluxio.worker.s3.port=30002', 'alluxio.worker.s3.redirect.enabled=true'] });
    assert.equal(conf.int('alluxio.worker.s3.port'), 30002);
    assert.equal(conf.bytes('alluxio.worker.page.store.page.size'), 4 * MB);
    assert.equal(conf.string('alluxio.log.level'), 'debug');
    assert.equal(conf.bool('alluxio.worker.s3.redirect.enabled'), true);
    assert.equal(conf.durationMs('alluxio.coordinator.worker.timeout'), 10_000);
  });

  it('an override value may itself contain "="', () => {
    const conf = loadConfig({ overrides: ['alluxio.underfs.s3.endpoint=http://h:9000/?a=b'] });
    assert.equal(conf.string('alluxio.underfs.s3.endpoint'), 'http://h:9000/?a=b');
  });

  it('rejects an unknown key in the file, naming it', async () => {
    const confDir = await writeSite('unknown', 'alluxio.worker.s3.port=30001\nalluxio.no.such.key=1\n');
    throwsConfigError(() => loadConfig({ confDir }), 'alluxio.no.such.key');
  });

  it('rejects an unknown key in the overrides, naming it', () => {
    throwsConfigError(() => loadConfig({ overrides: ['alluxio.worker.s3.prot=1'] }), 'alluxio.worker.s3.prot');
  });

  it('rejects an override without "="', () => {
    throwsConfigError(() => loadConfig({ overrides: ['alluxio.worker.s3.port'] }), 'alluxio.worker.s3.port');
    throwsConfigError(() => loadConfig({ overrides: ['=1'] }));
  });

  it('a malformed line in the file names the file and line', async () => {
    const confDir = await writeSite('malformed', 'alluxio.worker.s3.port=1\n\nnonsense\n');
    throwsConfigError(() => loadConfig({ confDir }), `${path.join(confDir, 'alluxio-site.properties')}:3`);
  });

  const typeErrors: [string, string][] = [
    ['alluxio.worker.s3.port', 'eighty'],
    ['alluxio.worker.s3.port', '1.5'],
    ['alluxio.worker.s3.redirect.enabled', 'yes'],
    ['alluxio.worker.page.store.page.size', 'big'],
    ['alluxio.coordinator.worker.timeout', '10 fortnights'],
    ['alluxio.log.level', 'verbose'],
  ];
  for (const [key, value] of typeErrors) {
    it(`a type error names the key: ${key}=${value}`, async () => {
      throwsConfigError(() => loadConfig({ overrides: [`${key}=${value}`] }), key);
      const confDir = await writeSite(`type-${key}-${value.replace(/\W/g, '_')}`, `${key}=${value}\n`);
      throwsConfigError(() => loadConfig({ confDir }), key);
    });
  }
});

describe('Config', () => {
  it('is frozen', () => {
    assert.ok(Object.isFrozen(new Config()));
  });

  it('overrides() returns only values that differ from the defaults', () => {
    const conf = new Config(new Map([
      ['alluxio.worker.s3.port', '30000'],
      ['alluxio.log.level', 'info'], // the default, given explicitly
      ['alluxio.worker.s3.redirect.enabled', 'true'],
    ]));
    assert.deepEqual(new Map(conf.overrides()), new Map([
      ['alluxio.worker.s3.port', '30000'],
      ['alluxio.worker.s3.redirect.enabled', 'true'],
    ]));
  });

  it('with() layers more values on a copy and leaves the original alone', () => {
    const base = new Config(new Map([['alluxio.worker.s3.port', '30000'], ['alluxio.log.level', 'warn']]));
    const derived = base.with({ 'alluxio.worker.s3.port': '30001', 'alluxio.worker.hostname': '10.1.1.1' });
    assert.equal(derived.int('alluxio.worker.s3.port'), 30001);
    assert.equal(derived.string('alluxio.worker.hostname'), '10.1.1.1');
    assert.equal(derived.string('alluxio.log.level'), 'warn');
    assert.equal(base.int('alluxio.worker.s3.port'), 30000);
    assert.equal(base.string('alluxio.worker.hostname'), '127.0.0.1');
    const fromMap = base.with(new Map([['alluxio.log.level', 'error']]));
    assert.equal(fromMap.string('alluxio.log.level'), 'error');
  });

  it('with() validates what it adds', () => {
    throwsConfigError(() => new Config().with({ 'alluxio.no.such.key': '1' }), 'alluxio.no.such.key');
    throwsConfigError(() => new Config().with({ 'alluxio.worker.s3.port': 'x' }), 'alluxio.worker.s3.port');
  });

  it('getters refuse unknown keys and the wrong type, naming the key', () => {
    const conf = new Config();
    throwsConfigError(() => conf.raw('alluxio.no.such.key'), 'alluxio.no.such.key');
    throwsConfigError(() => conf.int('alluxio.log.level'), 'alluxio.log.level');
    throwsConfigError(() => conf.bool('alluxio.worker.s3.port'), 'alluxio.worker.s3.port');
  });

  it('path() resolves against alluxio.home', () => {
    const conf = new Config(new Map([['alluxio.home', '/opt/alluxio'], ['alluxio.data.dir', 'var/data']]));
    assert.equal(conf.dataDir(), '/opt/alluxio/var/data');
    const abs = conf.with({ 'alluxio.data.dir': '/srv/data' });
    assert.equal(abs.dataDir(), '/srv/data');
  });
});

describe('REGISTRY', () => {
  for (const [name, key] of REGISTRY) {
    it(`${name}: default ${JSON.stringify(key.default)} parses as ${key.type}`, () => {
      assert.equal(key.name, name);
      assert.ok(key.description.length > 0, 'has a description');
      const conf = new Config();
      switch (key.type) {
        case 'int': assert.ok(Number.isInteger(conf.int(name))); break;
        case 'bool': assert.equal(typeof conf.bool(name), 'boolean'); break;
        case 'bytes': assert.ok(conf.bytes(name) >= 0); break;
        case 'duration': assert.ok(conf.durationMs(name) >= 0); break;
        case 'enum': assert.ok(key.values?.includes(conf.string(name)), `default is one of ${key.values?.join(', ')}`); break;
        case 'string': assert.equal(typeof conf.string(name), 'string'); break;
      }
      // Giving the default explicitly is accepted and is not an override.
      assert.deepEqual([...new Config(new Map([[name, key.default]])).overrides()], []);
    });
  }

  // Defaults taken from the Alluxio documentation (and one deliberate difference).
  const defaults: [string, (c: Config) => unknown, unknown][] = [
    // Alluxio defaults to true; no S3 client follows a 307 to another host:port (S3-CLIENTS T7).
    ['alluxio.worker.s3.redirect.enabled', (c) => c.bool('alluxio.worker.s3.redirect.enabled'), false],
    ['alluxio.worker.page.store.page.size', (c) => c.bytes('alluxio.worker.page.store.page.size'), MB],
    ['alluxio.proxy.s3.header.metadata.max.size', (c) => c.bytes('alluxio.proxy.s3.header.metadata.max.size'), 2 * KB],
    ['alluxio.worker.s3.connection.idle.max.time', (c) => c.durationMs('alluxio.worker.s3.connection.idle.max.time'), 0],
    ['alluxio.proxy.s3.complete.multipart.upload.min.part.size', (c) => c.bytes('alluxio.proxy.s3.complete.multipart.upload.min.part.size'), 5 * MB],
  ];
  for (const [name, get, expected] of defaults) {
    it(`default of ${name} is ${String(expected)}`, () => assert.equal(get(new Config()), expected));
  }
});
