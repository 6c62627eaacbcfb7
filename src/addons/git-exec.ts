import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { AirlockError, type ErrorCode } from '../core/errors.js';
import { redact, registerCredentials, registerSecret } from '../core/secrets.js';

/**
 * A git remote as airlock hands it to git: credentials taken out of the URL and passed as an
 * HTTP header through the environment, so they never appear in argv, in git's own messages,
 * or in the config of a cache clone.
 */
export interface GitRemote {
  /** What git is given (no credentials; local paths made absolute). */
  url: string;
  /** For messages and logs: the URL with any password replaced by `***`. */
  display: string;
  /** Extra environment for commands that talk to this remote. */
  env: Record<string, string>;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
// `user@host:path` (scp-like ssh); a Windows drive letter is not a concern on Linux.
const SCP_LIKE = /^[^/\s]+@[^/\s:]+:/;

export function parseGitRemote(input: string): GitRemote {
  const raw = input.trim();
  if (!raw) throw new AirlockError('E_USAGE', 'a git URL or path is required');
  if (!SCHEME.test(raw)) {
    if (SCP_LIKE.test(raw)) return { url: raw, display: raw, env: {} };
    const abs = path.resolve(raw);
    return { url: abs, display: abs, env: {} };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new AirlockError('E_USAGE', 'not a valid git URL', { artifact: redact(raw) });
  }
  if (!u.username && !u.password) return { url: raw, display: raw, env: {} };
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  if (pass) registerCredentials(user, pass);
  else registerSecret(user); // a token given as the user name (`https://TOKEN@host/...`)
  u.username = '';
  u.password = '';
  const url = u.toString();
  const display = `${u.protocol}//${user && pass ? `${user}:***@` : '***@'}${u.host}${u.pathname}${u.search}`;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    // ssh://user@host keeps its user; git's ssh transport takes no password from the URL.
    if (pass)
      throw new AirlockError('E_USAGE', 'a password in an ssh URL is not supported; use an ssh key', {
        artifact: display,
      });
    return { url: raw, display: raw, env: {} };
  }
  const basic = Buffer.from(`${user}:${pass}`).toString('base64');
  registerSecret(basic);
  // Scoped to this host, so a redirect elsewhere does not receive the header.
  const scope = `${u.protocol}//${u.host}/`;
  return {
    url,
    display,
    env: {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: `http.${scope}.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    },
  };
}

// Variables airlock itself sets; simple-git refuses any GIT_* variable not named here.
const ALLOWED_ENV = [
  'GIT_TERMINAL_PROMPT',
  'GIT_CONFIG_COUNT',
  'GIT_CONFIG_KEY_0',
  'GIT_CONFIG_VALUE_0',
  'GIT_INDEX_FILE',
  'GIT_WORK_TREE',
  'GIT_AUTHOR_NAME',
  'GIT_AUTHOR_EMAIL',
  'GIT_AUTHOR_DATE',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
  'GIT_COMMITTER_DATE',
  'GIT_SSH_COMMAND',
];

// Guarded by simple-git when inherited (editors, pagers, config paths): dropped, as git needs none of them here.
const INHERITED_GUARDED = /^(git_.*|editor|visual|pager|prefix|ssh_askpass)$/i;

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !INHERITED_GUARDED.test(k)) env[k] = v;
  }
  // English messages, because errors are classified by their text; never wait for a password.
  env.LC_ALL = 'C';
  env.LANGUAGE = 'C';
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_SSH_COMMAND = process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes';
  return env;
}

export interface GitOptions {
  env?: Record<string, string>;
  /** Kill git after this long without output (network commands). */
  timeoutMs?: number;
}

/** A simple-git instance in `dir` with a clean, prompt-free environment. */
export function gitIn(dir: string, options: GitOptions = {}): SimpleGit {
  return simpleGit({
    baseDir: dir,
    allowEnvironment: ALLOWED_ENV,
    // The GIT_CONFIG_* variables carry only the header built in parseGitRemote; the ssh command is the operator's own.
    unsafe: { allowUnsafeConfigEnvCount: true, allowUnsafeSshCommand: true },
    ...(options.timeoutMs ? { timeout: { block: options.timeoutMs } } : {}),
  }).env({ ...baseEnv(), ...options.env });
}

const BOILERPLATE = [
  /^Please make sure you have the correct access rights$/i,
  /^and the repository exists\.?$/i,
  /^Could not read from remote repository\.?$/i,
  // --progress output (network commands ask for it so the idle timeout sees activity).
  /^(remote:\s*)?(Enumerating|Counting|Compressing|Writing|Receiving|Resolving|Unpacking|Total|Delta compression|Finding sources)\b/i,
  /^remote:\s*$/i,
];

/** git's output without progress lines and generic advice. */
export function meaningfulLines(text: string): string[] {
  return text
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter((l) => l && !BOILERPLATE.some((re) => re.test(l.replace(/^(fatal|error):\s*/i, ''))));
}

/** git's stderr reduced to one line: the fatal/error lines, without the generic advice. */
export function gitMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const lines = meaningfulLines(text).map((l) => l.replace(/^(fatal|error):\s*/i, ''));
  const line = (lines.length ? lines.join(' ') : text.trim()) || 'git failed';
  return redact(line.length > 300 ? `${line.slice(0, 297)}...` : line);
}

const RULES: Array<[RegExp, ErrorCode]> = [
  [
    /Authentication failed|could not read (Username|Password)|terminal prompts disabled|HTTP Basic: Access denied|returned error: 401|Permission denied \(publickey|Invalid username or password/i,
    'E_UNAUTHORIZED',
  ],
  [/returned error: 403/i, 'E_DENIED'],
  [
    /does not appear to be a git repository|repository '.*' not found|returned error: 404|repository not exported|No such file or directory|not found/i,
    'E_NOT_FOUND',
  ],
  [
    /Could not resolve host|Failed to connect|Couldn't connect|Connection refused|Connection timed out|Connection reset|timed out|unable to connect|Network is unreachable|No route to host|block timeout reached|the remote end hung up|early EOF|Could not read from remote repository/i,
    'E_UNREACHABLE',
  ],
];

/** Maps a failed git command talking to `remote` to an AirlockError with the remote as artifact. */
export function remoteGitError(e: unknown, doing: string, remote: GitRemote): AirlockError {
  if (e instanceof AirlockError) return e.about(remote.display);
  const text = e instanceof Error ? e.message : String(e);
  const code = RULES.find(([re]) => re.test(text))?.[1] ?? 'E_REGISTRY';
  const detail = /block timeout reached/.test(text) ? 'git stopped answering (timed out)' : gitMessage(e);
  return new AirlockError(code, `${doing}: ${detail}`, { artifact: remote.display });
}

/** A failed local git command (in the cache clone): not the remote's fault. */
export function localGitError(e: unknown, doing: string, artifact: string): AirlockError {
  if (e instanceof AirlockError) return e.about(artifact);
  return new AirlockError('E_STATE', `${doing}: ${gitMessage(e)}`, { artifact });
}

/** Remote refs from `git ls-remote` output. */
export interface RemoteRefs {
  /** Branches and tags only, name → object id (no peeled `^{}` lines; hosts' `refs/pull/*` and the like left out). */
  refs: Map<string, string>;
  /** Target of the remote's HEAD symref (`refs/heads/main`), when the server tells. */
  head?: string;
  /** Object id HEAD points at. */
  headId?: string;
}

export function parseLsRemote(out: string): RemoteRefs {
  const refs = new Map<string, string>();
  let head: string | undefined;
  let headId: string | undefined;
  for (const line of out.split('\n')) {
    const sym = /^ref: (\S+)\tHEAD$/.exec(line);
    if (sym) {
      head = sym[1];
      continue;
    }
    const m = /^([0-9a-f]{40,64})\t(\S+)$/.exec(line);
    if (!m || !m[1] || !m[2] || m[2].endsWith('^{}')) continue;
    if (m[2] === 'HEAD') headId = m[1];
    else if (m[2].startsWith('refs/heads/') || m[2].startsWith('refs/tags/')) refs.set(m[2], m[1]);
  }
  return { refs, head, headId };
}

/** Branches and tags of a local repository: name → object id. */
export async function localRefs(git: SimpleGit): Promise<Map<string, string>> {
  const out = await git.raw(['for-each-ref', '--format=%(objectname)%09%(refname)', 'refs/heads', 'refs/tags']);
  return parseLsRemote(out).refs;
}
