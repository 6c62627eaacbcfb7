import type { AirlockConfig } from '../config/schema.js';
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
  options: { stateFile?: string; env?: NodeJS.ProcessEnv },
): Promise<StateChoice> {
  const env = options.env ?? process.env;
  if (!options.stateFile && config.redis) {
    const url = redisUrlOf(config, 'config', env);
    const policy = redisPolicyOf(config);
    // Loaded only when used: a one-shot copy should not pay for the Redis client at start-up.
    // Reachable within the connect timeout, or the command stops here with one E_UNREACHABLE line.
    const redis = await connectCommandRedis(url, policy);
    const state = redisMirrorState(redis, config.redis.prefix);
    // Redis lost in the middle of the run: each artifact says so in those words, not in the client's.
    const said = <T>(p: Promise<T>) =>
      p.catch((e: unknown) => Promise.reject(isRedisConnectionError(e) ? redisUnreachable(url, e, policy) : e));
    return {
      state: { get: (k) => said(state.get(k)), set: (k, r) => said(state.set(k, r)), flush: () => state.flush() },
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
