import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../worker/s3/handlers/object.js';

type Expected = { start: number; end: number } | undefined | 'unsatisfiable';

describe('parseRange', () => {
  const cases: [string | undefined, number, Expected][] = [
    // Absent.
    [undefined, 100, undefined],
    ['', 100, undefined],
    // bytes=a-b, inclusive.
    ['bytes=0-0', 100, { start: 0, end: 0 }],
    ['bytes=0-99', 100, { start: 0, end: 99 }],
    ['bytes=10-19', 100, { start: 10, end: 19 }],
    ['bytes=99-99', 100, { start: 99, end: 99 }],
    // bytes=a-: to the end.
    ['bytes=0-', 100, { start: 0, end: 99 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    // bytes=-n: the last n bytes, all of them when n exceeds the size.
    ['bytes=-5', 100, { start: 95, end: 99 }],
    ['bytes=-100', 100, { start: 0, end: 99 }],
    ['bytes=-500', 100, { start: 0, end: 99 }],
    // An end beyond the object is clamped to the last byte.
    ['bytes=0-1000', 100, { start: 0, end: 99 }],
    ['bytes=50-1000000000000', 100, { start: 50, end: 99 }],
    // Whitespace around the parts is tolerated.
    [' bytes = 1 - 2 ', 100, { start: 1, end: 2 }],
    // A range whose last byte is before its first is syntactically invalid: ignored, the whole object is served.
    ['bytes=5-2', 100, undefined],
    ['bytes=5-2', 3, undefined],
    // A first byte at or past the end cannot be satisfied (416 InvalidRange).
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=100-200', 100, 'unsatisfiable'],
    ['bytes=1000-', 100, 'unsatisfiable'],
    // A zero-length suffix never selects anything.
    ['bytes=-0', 100, 'unsatisfiable'],
    // Nothing in an empty object can be selected.
    ['bytes=0-0', 0, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=-5', 0, 'unsatisfiable'],
    // Not a single byte range: ignored, the whole object is served.
    ['bytes=-', 100, undefined],
    ['bytes=a-b', 100, undefined],
    ['bytes=1.5-2', 100, undefined],
    ['bytes 0-1', 100, undefined],
    ['items=0-1', 100, undefined],
    ['0-1', 100, undefined],
    ['bytes=0--1', 100, undefined],
    ['bytes=0-1,5-6', 100, undefined],
    ['bytes=0-1, 5-6', 100, undefined],
    ['bytes=-1,-2', 100, undefined],
  ];
  for (const [header, size, expected] of cases) {
    it(`${JSON.stringify(header)} on ${size} bytes → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseRange(header, size), expected);
    });
  }

  it('always answers a range inside the object', () => {
    for (let size = 1; size <= 6; size++) {
      for (let a = 0; a <= 7; a++) {
        for (let b = a; b <= 7; b++) {
          const r = parseRange(`bytes=${a}-${b}`, size);
          if (a >= size) {
            assert.equal(r, 'unsatisfiable');
          } else {
            assert.deepEqual(r, { start: a, end: Math.min(b, size - 1) });
          }
        }
        const suffix = parseRange(`bytes=-${a}`, size);
        if (a === 0) assert.equal(suffix, 'unsatisfiable');
        else assert.deepEqual(suffix, { start: Math.max(0, size - a), end: size - 1 });
      }
    }
  });
});
