import { Command, Option } from 'commander';
import type { AirlockConfig } from '../config/schema.js';
import { defaultConfig } from '../config/defaults.js';
import { AirlockError } from '../core/errors.js';
import { wholeNumber } from './number-options.js';
import type { MirrorImagePayload } from '../model/image-payload.js';
import { parsePlatform } from '../oci/manifest.js';
import { parseImageRef } from '../oci/reference.js';
import type { PlanFailure } from '../model/plan-failure.js';
import { readCopyList } from './from-file.js';
import { refuseUrlCredentials } from '../core/url-credentials.js';
import { runSync } from './run-sync.js';
import { STATE_OPTION_HELP } from './state-store.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface CopyOptions {
  platform?: string[];
  referrers?: boolean;
  dryRun?: boolean;
  digestExact?: boolean;
  fromFile?: string;
  config?: string;
  json?: boolean;
  state?: string;
  plainHttp?: string[];
  tlsSkipVerify?: string[];
  verifyTargets?: boolean;
  concurrency?: number;
  logLevel?: string;
}

/** The YAML reader and the config checks are loaded only for a config file: a plain copy starts without them. */
async function loadConfig(file: string): Promise<AirlockConfig> {
  return (await import('../plan/config-check.js')).loadRunConfig(file);
}

function configFrom(file: string | undefined): Promise<AirlockConfig> {
  return file ? loadConfig(file) : Promise.resolve(defaultConfig());
}

function commonOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'print the run report as JSON')
    .option('--state <file>', STATE_OPTION_HELP)
    .option(
      '--plain-http <host>',
      'speak plain HTTP to this registry (repeatable; loopback is plain by default)',
      collect,
    )
    .option('--tls-skip-verify <host>', 'do not verify TLS certificates of this registry (repeatable)', collect)
    .option(
      '--verify-targets',
      'check every target, even where the mirror state vouches for it (repairs targets changed outside airlock)',
    )
    .addOption(
      new Option('--log-level <level>', 'log level on stderr')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
        .default('warn'),
    );
}

export function imageCommand(): Command {
  const image = new Command('image').description(
    'copy container images and OCI artifacts between registries and OCI layouts',
  );

  commonOptions(
    image
      .command('copy')
      .description('copy one image (SRC DST) or many (--from-file LIST), digest-exact')
      .argument('[src]', 'docker://HOST[:PORT]/REPO[:TAG|@DIGEST] or oci:DIR[:TAG]')
      .argument('[dst]', 'docker://HOST[:PORT]/REPO[:TAG] or oci:DIR[:TAG]')
      .option(
        '--platform <os/arch>',
        'copy only these platforms of an index (repeatable; changes the index digest)',
        collect,
      )
      .option('--digest-exact', 'refuse anything that would change the digest (e.g. platform filtering)')
      .option('--referrers', 'also copy signatures, attestations and SBOMs (referrers API, fallback tag, cosign tags)')
      .option('--dry-run', 'resolve and compare only; copy nothing')
      .option('--from-file <list>', 'copy every "SRC DST" pair in this file (one per line)')
      .option('-c, --config <file>', 'config file (registries, credentials, concurrency)')
      .option('--concurrency <n>', 'images copied at once', wholeNumber('--concurrency')),
  ).action(async (src: string | undefined, dst: string | undefined, opts: CopyOptions) => {
    const config = await configFrom(opts.config);
    if (opts.concurrency !== undefined) config.concurrency.images = opts.concurrency;
    const platforms = (opts.platform ?? []).map(parsePlatform);
    const common: Partial<MirrorImagePayload> = {
      ...(platforms.length ? { platforms } : {}),
      ...(opts.referrers ? { referrers: true } : {}),
      ...(opts.digestExact ? { digestExact: true } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
    };
    const payloads: MirrorImagePayload[] = [];
    const failures: PlanFailure[] = [];
    if (opts.fromFile) {
      if (src || dst) throw new AirlockError('E_USAGE', 'give either SRC DST or --from-file, not both');
      const list = readCopyList(opts.fromFile);
      failures.push(...list.errors.map((error) => ({ artifact: error.artifact ?? opts.fromFile ?? '', error })));
      for (const p of list.pairs) {
        try {
          refuseUrlCredentials(p.source, 'SRC', 'image');
          refuseUrlCredentials(p.target, 'DST', 'image');
          parseImageRef(p.source);
          parseImageRef(p.target, { defaultTag: false });
          payloads.push({ source: p.source, target: p.target, ...common });
        } catch (e) {
          failures.push({ artifact: `${opts.fromFile}:${p.line}`, error: e as AirlockError });
        }
      }
    } else {
      if (!src || !dst) throw new AirlockError('E_USAGE', 'image copy needs SRC and DST (or --from-file LIST)');
      // Bad references end the command here, before any connection is made.
      refuseUrlCredentials(src, 'SRC', 'image');
      refuseUrlCredentials(dst, 'DST', 'image');
      parseImageRef(src);
      parseImageRef(dst, { defaultTag: false });
      payloads.push({ source: src, target: dst, ...common });
    }
    process.exitCode = await runSync({
      kinds: [],
      images: payloads,
      failures,
      config,
      json: opts.json,
      dryRun: opts.dryRun,
      stateFile: opts.state,
      plainHttp: opts.plainHttp,
      tlsSkipVerify: opts.tlsSkipVerify,
      verifyTargets: opts.verifyTargets,
      logLevel: opts.logLevel,
    });
  });

  commonOptions(
    image
      .command('sync')
      .description("mirror every image of the config's images: section to its target")
      .requiredOption('-c, --config <file>', 'config file')
      .option('--dry-run', 'resolve tags and compare digests; copy nothing'),
  ).action(async (opts: CopyOptions) => {
    const config = await loadConfig(opts.config ?? '');
    if (config.images.length === 0)
      throw new AirlockError('E_CONFIG', `${opts.config}: images: is empty, nothing to sync`);
    process.exitCode = await runSync({
      kinds: ['images'],
      config,
      json: opts.json,
      dryRun: opts.dryRun,
      stateFile: opts.state,
      plainHttp: opts.plainHttp,
      tlsSkipVerify: opts.tlsSkipVerify,
      verifyTargets: opts.verifyTargets,
      logLevel: opts.logLevel,
    });
  });

  return image;
}
