/**
 * The path-level write policies (seed 004) as the coordinator keeps them: one validated
 * document with its own version, held in ClusterState (so it is persisted in state.json) and
 * carried in every cluster snapshot, so a change reaches every worker with the next
 * WatchCluster message. A change is validated first and applied whole or not at all.
 */
import type { Logger } from '../common/log.js';
import { parsePathConfig, PathConfigError, resolvePolicy, serializePathConfig, type PathConfig, type ResolvedPathPolicy } from '../common/path-config.js';
import type { PathConfigDocument } from '../proto/index.js';
import type { ClusterState } from './cluster-state.js';
import { CoordinatorError } from './errors.js';

export interface SetPathConfigOptions {
  /**
   * Apply only if the current version is this one (what the caller read before editing);
   * otherwise FAILED_PRECONDITION. Absent (or 0): apply unconditionally.
   */
  expectedVersion?: number;
}

export class PathConfigStore {
  constructor(private readonly state: ClusterState, private readonly log: Logger) {}

  /** The current document (pretty JSON) and its version. */
  get(): PathConfigDocument {
    const { json, version } = this.state.getPathConfig();
    return { json, version };
  }

  /** The current document, parsed (frozen). */
  config(): PathConfig {
    return this.state.getPathConfig().config;
  }

  /**
   * Validates `text` and makes it the document: a new version, persisted, then published to
   * the workers with a cluster version bump. An invalid document changes nothing
   * (INVALID_ARGUMENT `invalid path config: <reason>`). A document equal to the current one
   * (after normalisation) is not a change: the current version is returned.
   */
  async set(text: string, opts: SetPathConfigOptions = {}): Promise<PathConfigDocument> {
    let config: PathConfig;
    try {
      config = parsePathConfig(text);
    } catch (err) {
      if (err instanceof PathConfigError) throw new CoordinatorError('INVALID_ARGUMENT', `invalid path config: ${err.message}`);
      throw err;
    }
    const previous = this.state.getPathConfig();
    if (opts.expectedVersion && opts.expectedVersion !== previous.version) {
      throw new CoordinatorError(
        'FAILED_PRECONDITION',
        `the path config changed since version ${opts.expectedVersion} was read (it is now version ${previous.version}); read it again and redo the change`,
      );
    }
    // Nothing changed: no new version, no bump.
    if (serializePathConfig(config) === previous.json) return this.get();
    const applied = this.state.setPathConfig(config, previous.version + 1);
    try {
      await this.state.commit(`path config version ${applied.version}`, { bump: true });
    } catch (err) {
      // Not durable, so not accepted; undo unless a later change already replaced it.
      if (this.state.getPathConfig() === applied) this.state.setPathConfig(previous.config, previous.version);
      throw err;
    }
    this.log.info({ path_config_version: applied.version, rules: applied.config.rules.length, default: applied.config.default.policyMode }, 'path config changed');
    return { json: applied.json, version: applied.version };
  }

  /** The policy for `path` (see resolvePolicy in common/path-config.ts). */
  resolve(path: string | undefined): ResolvedPathPolicy {
    if (typeof path !== 'string' || path === '') throw new CoordinatorError('INVALID_ARGUMENT', 'a path is required, e.g. /ckpt/model.bin');
    return resolvePolicy(this.state.getPathConfig().config, path);
  }
}
