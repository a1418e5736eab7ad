/**
 * The write cache's persistence state as the metastore records it: what `GET
 * /api/v1/persistence` answers. Counts by state and policy, the oldest unpersisted object, and
 * every pending entry (path, state, holders, persister, attempts, next try, last error).
 */
import type { Metastore } from '../common/metastore/types.js';
import { allEntries } from '../common/metastore/write-entries.js';

export async function persistenceSummary(metastore: Metastore): Promise<object> {
  const entries = await allEntries(metastore);
  const now = Date.now();
  const byState: Record<string, number> = {};
  const byPolicy: Record<string, number> = {};
  for (const e of entries) {
    const state = e.deleted ? `${e.state} (delete)` : e.state;
    byState[state] = (byState[state] ?? 0) + 1;
    byPolicy[e.policy] = (byPolicy[e.policy] ?? 0) + 1;
  }
  const pending = entries.filter((e) => e.policy === 'WRITE_BACK');
  return {
    unpersisted: pending.length,
    transient: byPolicy.TRANSIENT ?? 0,
    byState,
    failing: pending.filter((e) => e.lastError).length,
    oldestUnpersistedAgeMs: pending.reduce((m, e) => Math.max(m, now - e.createdMs), 0),
    entries: entries.map((e) => ({
      path: e.path, state: e.state, policy: e.policy, deleted: e.deleted === true, size: e.size, holders: e.holders,
      persister: e.persister, attempts: e.attempts, nextAttemptAt: new Date(e.dueMs).toISOString(), lastError: e.lastError,
    })),
  };
}
