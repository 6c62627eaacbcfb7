import * as z from 'zod';
import { urlCredentialProblem, type UrlUse } from '../core/url-credentials.js';

/** A URL or reference that must not carry credentials (they would land in reports, keys and labels). */
function noCredentials<T extends z.ZodType<string>>(schema: T, use: UrlUse = 'http'): T {
  return schema.superRefine((value, ctx) => {
    const problem = urlCredentialProblem(value, use);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }) as unknown as T;
}
import { nameProblem, printable, type NameKind } from '../core/names.js';

const secretRef = z.union([z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })], {
  error: 'must be { env: VAR } or { file: PATH } (secrets are never written in the config)',
});

/** A value that will name a file, an OCI repository or tag: checked against that grammar at load. */
const namedAs = (kind: NameKind, what: string) =>
  z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      const problem = nameProblem(kind, value);
      if (problem) ctx.addIssue({ code: 'custom', message: `${what} "${printable(value)}" ${problem}` });
    });

const registry = z.strictObject({
  /** Registry name as in image references: `ghcr.io`, `registry.internal:5000`, `docker.io`. */
  host: z.string().min(1),
  /** Speak plain HTTP (default: true for localhost/127.0.0.1/::1, false elsewhere). */
  plainHttp: z.boolean().optional(),
  /** HTTPS without certificate verification. */
  insecure: z.boolean().default(false),
  username: z.string().min(1).optional(),
  password: secretRef.optional(),
  /** Upload blobs larger than this in chunks of this size (bytes); 0 = one streamed PUT, chunks only on failure or when asked. */
  chunkSize: z.number().int().min(0).default(0),
  /** Blob transfers from or to this registry at once (within the global concurrency.blobs; across all workers when they share Redis), so one slow upstream cannot take every slot. */
  concurrency: z.number().int().positive().max(64).optional(),
  /** At most `requests` requests per `perSeconds` seconds to this registry, counted across every worker on one Redis. */
  rateLimit: z
    .strictObject({
      requests: z.number().int().positive().max(1_000_000),
      perSeconds: z.number().positive().max(86_400),
    })
    .optional(),
});

const imageEntry = z
  .strictObject({
    /** `[host/]repository` without tag, or a full reference with a tag or digest. */
    source: noCredentials(z.string().min(1), 'image'),
    /** Each becomes `source:TAG`. */
    tags: z.array(namedAs('tag', 'tag')).optional(),
    semver: z.string().min(1).optional(),
    regex: z.string().min(1).optional(),
    newest: z.number().int().positive().optional(),
    platforms: z
      .array(z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'expected os/arch[/variant]'))
      .optional(),
    referrers: z.boolean().optional(),
    /** Tags never move upstream: a recorded copy is not checked again. */
    immutable: z.boolean().optional(),
    /** Target repository (`host/path` or `oci:DIR`) instead of the path rule. */
    target: noCredentials(z.string().min(1), 'image').optional(),
  })
  .superRefine((e, ctx) => {
    if (e.regex) {
      try {
        new RegExp(e.regex);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          path: ['regex'],
          message: `invalid regular expression: ${(err as Error).message}`,
        });
      }
    }
  });

const chartEntry = z.strictObject({
  /** Classic repository URL (`https://charts.jetstack.io`) or `oci://HOST/PATH`. */
  repo: noCredentials(z.string().regex(/^(https?|oci):\/\//, 'must be an http(s):// or oci:// URL')),
  name: namedAs('chart-name', 'chart name'),
  versions: z.array(namedAs('version', 'version')).optional(),
  semver: z.string().min(1).optional(),
  newest: z.number().int().positive().optional(),
  /** Mirror the images the chart needs to targets.images (default true). */
  images: z.boolean().default(true),
  /** Values overrides used to find those images. */
  values: z.record(z.string(), z.unknown()).optional(),
});

const chartTarget = z.union([
  noCredentials(z.string().min(1)),
  z.strictObject({
    /** `oci://HOST/PATH`, `cm+http(s)://HOST[/TENANT]`, or a directory. */
    url: noCredentials(z.string().min(1)),
    /** Directory targets: public base URL written into index.yaml (default: relative URLs). */
    baseUrl: noCredentials(z.string()).optional(),
    /** ChartMuseum `--context-path`. */
    contextPath: z.string().optional(),
    /** ChartMuseum: overwrite a different chart of the same version. */
    force: z.boolean().optional(),
  }),
]);

const staticTarget = z.strictObject({
  /** Directory served by a web server (or synced to a bucket). */
  dir: z.string().min(1),
  /** Its public URL, written into mirrored indexes. */
  baseUrl: noCredentials(z.string().regex(/^https?:\/\//, 'must be an http(s) URL')),
});

const fileEntry = z.strictObject({
  url: noCredentials(z.string().regex(/^https?:\/\//, 'must be an http(s) URL')),
  /** sha256 hex the download must match. */
  checksum: z
    .string()
    .regex(/^(sha256:)?[a-fA-F0-9]{64}$/, 'must be a sha256 hex digest')
    .optional(),
});

const botkubeRepo = z.strictObject({
  /** The key under Botkube's plugins.repositories. */
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only'),
  url: noCredentials(z.string().regex(/^https?:\/\//, 'must be an http(s) URL')),
  /** Request headers for the index (e.g. a token), values from env or files. */
  headers: z.record(z.string(), secretRef).optional(),
  /** `name` or `type/name`; default every plugin. */
  plugins: z.array(z.string().min(1)).optional(),
  /** Versions to keep besides the newest of each plugin (always mirrored); default all. */
  versions: z.array(z.string().min(1)).optional(),
});

const schedule = z.strictObject({
  /** Job scheduler id in Redis: letters, digits, -, _ and . (no ':'). */
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ., - and _ only'),
  /** Cron pattern (5 fields, or 6 with seconds first). */
  cron: z.string().min(1),
  /** IANA time zone, e.g. Europe/Berlin (default UTC). */
  tz: z.string().optional(),
  /** What the run covers. */
  /** `all`, a kind (`addons`, `images`, `charts`, `files`, `plugins`) or a named source (`addons:CATALOG`, `botkube:REPO`, `charts:CHART`, `images:SOURCE`). */
  scope: z.string().min(1).default('all'),
});

const pluginsSection = z.strictObject({
  /** Files or directories of plugin manifests (managed-plugin YAML, spacectl register YAML, 1.x). */
  manifests: z.array(z.string().min(1)).default([]),
  /** Where plugin images come from: `<source>/<image>` (default Docker Hub's cloudforet namespace). */
  source: noCredentials(z.string().min(1), 'image').default('docker.io/cloudforet'),
  /** Versions (tags) to mirror: exact list, semver range, newest N (default: newest 1). */
  tags: z.array(namedAs('tag', 'tag')).optional(),
  semver: z.string().optional(),
  newest: z.number().int().positive().optional(),
  /** The registry the Repository service knows (REGISTRY_INFO.HARBOR.url) and the path below it. */
  target: z.strictObject({
    registry: noCredentials(z.string().min(1), 'image'),
    path: z.string().default('cloudforet'),
  }),
  registryType: z.enum(['HARBOR', 'DOCKER_HUB', 'AWS_PRIVATE_ECR', 'GITHUB', 'GCP_PRIVATE_GCR']).default('HARBOR'),
  service: z
    .strictObject({
      /** grpc://HOST:PORT or grpc+ssl://HOST:PORT */
      endpoint: noCredentials(
        z.string().regex(/^grpc(\+ssl)?:\/\/[^/]+\/?$/, 'must be grpc://HOST:PORT or grpc+ssl://HOST:PORT'),
        'service',
      ),
      /** A DOMAIN_ADMIN client secret, or a system token with domainId. */
      token: secretRef,
      domainId: z.string().optional(),
    })
    .optional(),
  /** Deregister and register again when image, registry type, resource type or provider changed. */
  allowRecreate: z.boolean().default(false),
  /** Push tags the service's version sort cannot parse (e.g. latest), which breaks get_versions. */
  allowMutableTags: z.boolean().default(false),
});

const addonCatalog = z
  .strictObject({
    /** Label in reports, the git cache and the git mirror. */
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ., - and _ only'),
    /** A catalog checkout directory or a git URL (https://, ssh://, git://, file://). */
    source: noCredentials(z.string().min(1), 'git').optional(),
    /** Git branch, tag or commit (default: the remote's default branch). */
    ref: z.string().min(1).optional(),
    /** Alternatively a helm-type addon registry URL (index.yaml + addon .tgz), read as one registry. */
    helm: noCredentials(z.string().regex(/^https?:\/\//, 'must be an http(s) URL')).optional(),
    /** Folder → addon registry (default official=addons, experimental=experimental/addons); for `helm`, the one registry's name. */
    registries: z
      .array(z.strictObject({ name: z.string().regex(/^[A-Za-z0-9._-]+$/), path: z.string().min(1) }))
      .optional(),
    /** Only these addons and their dependencies (default: all). */
    addons: z.array(z.string().min(1)).optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.source === !c.helm)
      ctx.addIssue({
        code: 'custom',
        message: 'set exactly one of source (directory or git URL) and helm (addon registry URL)',
      });
    if (c.helm && c.ref) ctx.addIssue({ code: 'custom', path: ['ref'], message: 'ref only applies to a git source' });
  });

const addonsSection = z.strictObject({
  catalogs: z.array(addonCatalog).min(1),
  /** Where git catalogs are cloned (default: `catalogs/` beside the mirror state file, e.g. ~/.cache/airlock/catalogs). */
  cacheDir: z.string().min(1).optional(),
  /** The chart repository the rewritten addons point at (default: derived from targets.charts[0]). */
  chartRepository: noCredentials(
    z.string().regex(/^(https?|oci):\/\//, 'must be an http(s):// or oci:// URL'),
  ).optional(),
  /** Also mirror and rewrite the default images of addon definitions (runtime defaults for user apps). */
  definitionImages: z.boolean().default(false),
  publish: z
    .strictObject({
      /** Helm-type addon registries; `{registry}` in a URL becomes official / experimental. */
      registries: z.array(chartTarget).default([]),
      /** Push the catalog's branches and tags unchanged, plus a branch with the rewritten catalog. */
      git: z
        .strictObject({
          remote: noCredentials(z.string().min(1), 'git'),
          branch: z
            .string()
            .regex(/^[A-Za-z0-9._/-]+$/, 'a branch name')
            .default('airgap'),
        })
        .optional(),
    })
    .prefault({}),
});

const serveSection = z.strictObject({
  /** Largest webhook body accepted (bytes). */
  bodyLimit: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Bearer token for /admin endpoints and /metrics (optional for /metrics). */
  adminToken: secretRef.optional(),
  github: z
    .strictObject({
      /** The webhook secret: X-Hub-Signature-256 is checked against it. */
      secret: secretRef,
      /** Watched repositories (`owner/name`) and branches; a push there starts a sync of `scope`. */
      repositories: z
        .array(
          z.strictObject({
            repo: z.string().min(1),
            branch: z.string().default('master'),
            scope: z.string().min(1).default('all'),
          }),
        )
        .default([]),
    })
    .optional(),
  registry: z
    .strictObject({
      /** Shared secret: `Authorization: Bearer <token>` (distribution, Harbor) or `?token=` (Docker Hub). */
      token: secretRef,
    })
    .optional(),
  generic: z.strictObject({ token: secretRef }).optional(),
});

export const configSchema = z.strictObject({
  concurrency: z
    .strictObject({
      images: z.number().int().positive().max(64).default(8),
      blobs: z.number().int().positive().max(64).default(8),
    })
    .prefault({}),
  retry: z
    .strictObject({
      attempts: z.number().int().min(1).max(20).default(4),
      baseDelayMs: z.number().int().min(1).default(250),
      maxDelayMs: z.number().int().min(1).default(30_000),
      maxRetryAfterMs: z.number().int().min(0).default(120_000),
    })
    .prefault({}),
  /**
   * Overall deadlines in seconds, from the request to the last byte of its body; past one the
   * request fails with E_UNREACHABLE naming the URL.
   */
  timeouts: z
    .strictObject({
      /** Registry API calls: manifests, tags, referrers, tokens, upload sessions, chart lookups. */
      manifest: z.number().positive().max(86_400).default(60),
      /** Repository indexes: a chart repository's index.yaml, a Botkube plugin index. */
      index: z.number().positive().max(86_400).default(300),
      /** Blobs, chart archives, files: this long before the first byte counts... */
      blob: z.number().positive().max(86_400).default(120),
      /** ...plus this much per MiB transferred (so a transfer averaging under 1 MiB per this long is cut). */
      blobPerMiB: z.number().positive().max(3_600).default(20),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** Largest file `files:`, Botkube plugins and addon URLs may download (bytes). */
      fileBytes: z
        .number()
        .int()
        .positive()
        .default(4 * 1024 * 1024 * 1024),
      /** Largest chart repository index.yaml read, in bytes; a larger one fails with E_TOO_LARGE. */
      chartIndexBytes: z
        .number()
        .int()
        .positive()
        .default(256 * 1024 * 1024),
    })
    .prefault({}),
  registries: z.array(registry).default([]),
  redis: z
    .strictObject({
      url: z.union([
        z
          .string()
          .regex(/^rediss?:\/\/[^:@/]*@?[^@]*$/, 'a Redis URL with a password must come from { env } or { file }'),
        secretRef,
      ]),
      prefix: z.string().min(1).default('{airlock}'),
      /** One connection attempt gives up after this: commands then fail with E_UNREACHABLE, workers and serve retry. */
      connectTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
      /** Workers and serve reconnect with a backoff growing to this. */
      maxBackoffMs: z.number().int().min(100).max(300_000).default(10_000),
    })
    .optional(),
  state: z
    .strictObject({
      /** Where the file state store lives (used when `redis` is not configured). */
      file: z.string().min(1).optional(),
      /**
       * For this long after a tag was copied or checked, a re-sync asks only the source whether it
       * moved and takes the record's word for the target. 0 = check the target on every run.
       */
      trustTargetSeconds: z.number().int().min(0).default(3600),
    })
    .prefault({}),
  targets: z
    .strictObject({
      images: z
        .strictObject({
          /** `host[:port][/prefix]` of the private registry, or `oci:DIR` for a local OCI layout store. */
          registry: noCredentials(z.string().min(1), 'image'),
          /** Path below the registry; `{host}` = source registry (`:` → `-`), `{repository}`, `{name}` = last component. */
          path: z.string().min(1).default('{host}/{repository}'),
        })
        .optional(),
      /** Every chart version goes to each of these. */
      charts: z.array(chartTarget).default([]),
      /** Plugin binaries and other files. */
      files: staticTarget.optional(),
    })
    .prefault({}),
  images: z.array(imageEntry).default([]),
  charts: z.array(chartEntry).default([]),
  files: z.array(fileEntry).default([]),
  botkube: z.array(botkubeRepo).default([]),
  schedules: z.array(schedule).default([]),
  plugins: pluginsSection.optional(),
  addons: addonsSection.optional(),
  serve: serveSection.optional(),
});

export type AirlockConfig = z.infer<typeof configSchema>;
export type RegistryConfig = z.infer<typeof registry>;
export type ImageEntry = z.infer<typeof imageEntry>;
export type ChartEntry = z.infer<typeof chartEntry>;
export type ChartTargetConfig = z.infer<typeof chartTarget>;
export type BotkubeRepoConfig = z.infer<typeof botkubeRepo>;
export type ScheduleConfig = z.infer<typeof schedule>;
export type PluginsConfig = z.infer<typeof pluginsSection>;
export type AddonsConfig = z.infer<typeof addonsSection>;
export type AddonCatalogConfig = z.infer<typeof addonCatalog>;
