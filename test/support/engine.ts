import { parseConfig } from '../../src/config/load.js';
import { createEngine, type Engine } from '../../src/app/engine.js';
import { silentLogger, type Logger } from '../../src/core/log.js';
import { memoryMirrorState, type MirrorState } from '../../src/state/mirror-state.js';

/** A real engine for tests: no docker config from the machine, fast retries. */
export function testEngine(
  options: {
    config?: unknown;
    state?: MirrorState;
    env?: NodeJS.ProcessEnv;
    logger?: Logger;
    sleep?: (ms: number) => Promise<void>;
    verifyTargets?: boolean;
  } = {},
): Engine {
  const config = parseConfig({
    retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200 },
    ...(options.config as object),
  });
  return createEngine({
    config,
    logger: options.logger ?? silentLogger(),
    state: options.state ?? memoryMirrorState(),
    env: options.env ?? {},
    dockerConfigPath: false,
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.verifyTargets ? { verifyTargets: true } : {}),
  });
}
