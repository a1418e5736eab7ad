/** The test helper that reads /metrics: strict, so a broken exposition fails a test loudly. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { parsePrometheus, select, single, sum } from '../helpers/prometheus.js';

describe('Prometheus text parser (test helper)', () => {
  it('reads HELP, TYPE, escaped label values, special values and timestamps', () => {
    const e = parsePrometheus([
      '# HELP a_total Things \\\\ counted.',
      '# TYPE a_total counter',
      'a_total{path="C:\\\\dir",q="say \\"hi\\"",nl="x\\ny"} 3 1700000000000',
      'a_total{path="/b"} 1.5e3',
      '# a plain comment',
      '# TYPE g gauge',
      'g NaN',
      '# TYPE h histogram',
      'h_bucket{le="0.1"} 1',
      'h_bucket{le="+Inf"} 2',
      'h_sum 0.3',
      'h_count 2',
      '',
    ].join('\n'));
    assert.equal(e.types.get('a_total'), 'counter');
    assert.equal(e.help.get('a_total'), 'Things \\ counted.');
    assert.deepEqual(select(e, 'a_total')[0].labels, { path: 'C:\\dir', q: 'say "hi"', nl: 'x\ny' });
    assert.equal(sum(e, 'a_total'), 1503);
    assert.equal(single(e, 'a_total', { path: '/b' }), 1500);
    assert.ok(Number.isNaN(single(e, 'g')));
    assert.equal(select(e, 'h_bucket', { le: '+Inf' })[0].value, 2);
    assert.equal(single(e, 'h_count'), 2);
    assert.equal(sum(e, 'missing'), 0);
    assert.throws(() => single(e, 'a_total'), /exactly one/);
  });

  it('refuses malformed lines', () => {
    for (const bad of [
      '# TYPE x counter\nx{a="1"',
      '# TYPE x counter\nx{a=1} 2',
      '# TYPE x counter\nx{a="1",a="2"} 2',
      '# TYPE x counter\nx 1 2 3',
      '# TYPE x counter\nx abc',
      '# TYPE x counter\nx{a="\\q"} 1',
      'untyped_sample 1',
      '# TYPE x weird',
    ]) assert.throws(() => parsePrometheus(bad), Error, bad);
  });

  it('reads what prom-client writes', async () => {
    const r = new Registry();
    const c = new Counter({ name: 't_requests_total', help: 'h', labelNames: ['op', 'status'], registers: [r] });
    const h = new Histogram({ name: 't_seconds', help: 'h', labelNames: ['op'], buckets: [0.1, 1], registers: [r] });
    c.inc({ op: 'GetObject', status: '200' }, 2);
    c.inc({ op: 'Put"Obj\\ect', status: '503' });
    h.observe({ op: 'GetObject' }, 0.5);
    const e = parsePrometheus(await r.metrics());
    assert.equal(single(e, 't_requests_total', { op: 'GetObject', status: '200' }), 2);
    assert.equal(single(e, 't_requests_total', { op: 'Put"Obj\\ect' }), 1);
    assert.equal(single(e, 't_seconds_bucket', { op: 'GetObject', le: '0.1' }), 0);
    assert.equal(single(e, 't_seconds_bucket', { op: 'GetObject', le: '1' }), 1);
    assert.equal(single(e, 't_seconds_count', { op: 'GetObject' }), 1);
  });
});
