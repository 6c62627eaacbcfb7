import type { AirlockConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { cacheDirsFor, defaultStateFile, type CacheDirs } from '../config/cache-dirs.js';
import { redisUrlOf } from '../config/secret-ref.js';
import {
  closeRedis,
  connectCommandRedis,
  isRedisConnectionError,
  redisPolicyOf,
  redisUnreachable,
} from '../state/redis-connect.js';
import { fileMirrorState, redisMirrorState, type MirrorState } from '../state/mirror-state.js';

export interface StateChoice {
  state: MirrorState;
  /** The caches beside the state file (chart indexes, chart images, addon archives, catalogs). */
  cacheDirs: CacheDirs;
  close: () => Promise<void>;
  /** Writes what a batching store holds, synchronously: for a process about to exit on a signal. */
  flushSync?: () => void;
}

/** What `--state` says in every command's help. */
export const STATE_OPTION_HELP =
  'mirror state file (default: Redis when the config has redis:, else state.file, else $XDG_CACHE_HOME/airlock/mirror-state.json or ~/.cache/airlock/mirror-state.json)';

/**
 * Redis when the config has it (shared by every worker), else a file: `--state`, then
 * `state.file`, then the user's cache directory — never the working directory, whatever the
 * target (an `oci:` layout is checked on every run anyway: reading it costs no request).
 */
export async function chooseStateStore(
  config: AirlockConfig,
  options: { stateFile?: string; env?: NodeJS.ProcessEnv; logger?: Logger },
): Promise<StateChoice> {
  const env = options.env ?? process.env;
  if (!options.stateFile && config.redis) {
    const url = redisUrlOf(config, 'config', env);
    const policy = redisPolicyOf(config);
    // Loaded only when used: a one-shot copy should not pay for the Redis client at start-up.
    // Reachable within the connect timeout, or the command stops here with one E_UNREACHABLE line.
    const redis = await connectCommandRedis(url, policy);
    const state = redisMirrorState(redis, config.redis.prefix);
    // Redis lost in the middle of the run: the state only saves requests, so the run goes on without
    // it (every target is asked instead, nothing is recorded) and says so once, rather than failing
    // each remaining artifact, or one already copied, on a cache it can do without.
    let lost = false;
    const orElse = async <T>(op: () => Promise<T>, fallback: T): Promise<T> => {
      if (lost) return fallback;
      try {
        return await op();
      } catch (e) {
        if (!isRedisConnectionError(e)) throw e;
        if (!lost) {
          lost = true;
          options.logger?.warn(
            `${redisUnreachable(url, e, policy).message}: the rest of this run neither reads nor records the mirror state; every target is checked instead`,
          );
        }
        return fallback;
      }
    };
    return {
      state: {
        get: (k) => orElse(() => state.get(k), undefined),
        set: (k, r) => orElse(() => state.set(k, r), undefined),
        flush: () => orElse(() => state.flush(), undefined),
      },
      cacheDirs: cacheDirsFor(config, { env }),
      close: () => closeRedis(redis),
    };
  }
  const file = options.stateFile ?? config.state.file ?? defaultStateFile(env);
  const state = fileMirrorState(file);
  return {
    state,
    cacheDirs: cacheDirsFor(config, { stateFile: file, env }),
    close: () => state.flush(),
    flushSync: () => state.flushSync?.(),
  };
}
