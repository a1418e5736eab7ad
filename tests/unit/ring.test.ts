import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { objectPathKey, Ring } from '../../common/ring.js';

const KEYS = Array.from({ length: 30_000 }, (_, i) => objectPathKey(`bucket-${i % 7}`, `dir-${i % 113}/object-${i}.bin`));

function ownersOf(ring: Ring): string[] {
  return KEYS.map((k) => ring.owner(k)!);
}

describe('Ring', () => {
  it('is deterministic: the member order does not matter and two instances agree', () => {
    const a = new Ring(['w1', 'w2', 'w3']);
    const b = new Ring(['w3', 'w1', 'w2']);
    const c = new Ring(['w2', 'w3', 'w1', 'w2']); // duplicates collapse
    assert.deepEqual(b.memberIds, ['w1', 'w2', 'w3']);
    assert.equal(c.size, 3);
    for (const k of KEYS.slice(0, 5000)) {
      const o = a.owner(k);
      assert.equal(b.owner(k), o, k);
      assert.equal(c.owner(k), o, k);
      assert.equal(new Ring(['w1', 'w2', 'w3']).owner(k), o, k);
    }
  });

  it('maps every key to a member', () => {
    const members = ['w1', 'w2', 'w3'];
    const ring = new Ring(members);
    for (const o of ownersOf(ring)) assert.ok(members.includes(o), o);
    for (const k of ['', '/', '/b/', '/b/ü日本', '/b/😀', `/b/${'x'.repeat(1024)}`]) assert.ok(members.includes(ring.owner(k)!), k);
  });

  it('spreads 30k keys roughly evenly over 3 members (each 20–47%)', () => {
    const counts = new Map<string, number>();
    for (const o of ownersOf(new Ring(['w1', 'w2', 'w3']))) counts.set(o, (counts.get(o) ?? 0) + 1);
    assert.equal(counts.size, 3);
    for (const [member, n] of counts) {
      const share = n / KEYS.length;
      assert.ok(share >= 0.2 && share <= 0.47, `${member} owns ${(share * 100).toFixed(1)}%`);
    }
  });

  it('adding a 4th member moves about 1/4 of the keys, all to the new member', () => {
    const before = ownersOf(new Ring(['w1', 'w2', 'w3']));
    const after = ownersOf(new Ring(['w1', 'w2', 'w3', 'w4']));
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(after[i], 'w4', `${KEYS[i]} moved from ${before[i]} to ${after[i]}, not to the new member`);
    }
    const share = moved / KEYS.length;
    assert.ok(share >= 0.15 && share <= 0.35, `moved ${(share * 100).toFixed(1)}%`);
  });

  it('growing from N to N+1 members (N = 1…9) moves about 1/(N+1) of the keys, only to the new member', () => {
    for (let n = 1; n <= 9; n++) {
      const members = Array.from({ length: n }, (_, i) => `worker-${i}`);
      const before = ownersOf(new Ring(members));
      const after = ownersOf(new Ring([...members, `worker-${n}`]));
      let moved = 0;
      for (let i = 0; i < KEYS.length; i++) {
        if (before[i] === after[i]) continue;
        moved++;
        assert.equal(after[i], `worker-${n}`, `${n}→${n + 1}: ${KEYS[i]} moved between old members`);
      }
      const expected = 1 / (n + 1);
      const share = moved / KEYS.length;
      assert.ok(share >= expected * 0.6 && share <= expected * 1.4, `${n}→${n + 1} moved ${(share * 100).toFixed(1)}%, expected about ${(expected * 100).toFixed(1)}%`);
    }
  });

  it('removing a member moves only the keys it owned', () => {
    const before = ownersOf(new Ring(['w1', 'w2', 'w3', 'w4']));
    const after = ownersOf(new Ring(['w1', 'w2', 'w4']));
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === 'w3') {
        moved++;
        assert.notEqual(after[i], 'w3');
      } else {
        assert.equal(after[i], before[i], `${KEYS[i]} moved from ${before[i]} to ${after[i]}`);
      }
    }
    assert.ok(moved > 0);
  });

  it('owners(key, n) gives n distinct members, the owner first', () => {
    const ring = new Ring(['w1', 'w2', 'w3', 'w4']);
    for (const k of KEYS.slice(0, 2000)) {
      const two = ring.owners(k, 2);
      assert.equal(two.length, 2, k);
      assert.notEqual(two[0], two[1], k);
      assert.equal(two[0], ring.owner(k), k);
    }
    const all = ring.owners('/b/k', 10);
    assert.deepEqual([...all].sort(), ['w1', 'w2', 'w3', 'w4'], 'n is capped at the member count');
    assert.equal(all[0], ring.owner('/b/k'));
  });

  it('a one-member ring owns everything', () => {
    const ring = new Ring(['only']);
    assert.equal(ring.owner('/b/k'), 'only');
    assert.deepEqual(ring.owners('/b/k', 3), ['only']);
  });

  it('an empty ring has no owner', () => {
    const ring = new Ring([]);
    assert.equal(ring.size, 0);
    assert.equal(ring.owner('/b/k'), undefined);
    assert.deepEqual(ring.owners('/b/k', 2), []);
  });

  it('objectPathKey is /bucket/key', () => {
    assert.equal(objectPathKey('b', 'dir/k'), '/b/dir/k');
  });
});
