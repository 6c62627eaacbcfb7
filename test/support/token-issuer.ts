import { createHash, createSign, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

/**
 * A small token server for the distribution registry's `auth: token` mode (distribution
 * docs/spec/auth/token.md and jwt.md): it answers GET /token with an RS256 JWT whose `kid` is the
 * libtrust key id of the certificate the registry trusts.
 */
export interface TokenIssuer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** How many tokens were issued (token caching is visible here). */
  issued: number;
  requests: Array<{ scopes: string[]; user?: string }>;
  stop(): Promise<void>;
}

export interface TokenIssuerOptions {
  /** username → password; with users set, anonymous requests get pull only when `anonymousPull`. */
  users?: Record<string, string>;
  anonymousPull?: boolean;
  expiresIn?: number;
}

function base64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/** libtrust KeyID: SHA-256 of the DER public key, first 240 bits, base32, in groups of four. */
function libtrustKeyId(publicKeyDer: Buffer): string {
  const sum = createHash('sha256').update(publicKeyDer).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of sum) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)?.join(':') ?? out;
}

export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-token-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=airlock-test-issuer',
    ],
    {
      stdio: 'ignore',
    },
  );
  const key = fs.readFileSync(keyFile, 'utf8');
  const pubDer = execFileSync('openssl', ['x509', '-in', certFile, '-pubkey', '-noout']);
  const pem = pubDer
    .toString('utf8')
    .replace(/-----[^-]+-----/g, '')
    .replace(/\s+/g, '');
  const kid = libtrustKeyId(Buffer.from(pem, 'base64'));
  const service = 'airlock-test-registry';
  const issuer = 'airlock-test-issuer';
  const port = await freePort();

  const state: TokenIssuer = {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    issued: 0,
    requests: [],
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', state.realm);
    const scopes = url.searchParams.getAll('scope');
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(authz.slice(6), 'base64').toString('utf8').split(':');
      if (!options.users || options.users[u ?? ''] !== rest.join(':')) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      user = u;
    } else if (options.users && !options.anonymousPull) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'credentials required' }] }));
      return;
    }
    state.requests.push({ scopes, ...(user ? { user } : {}) });
    const access = scopes.map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = (rest.pop() ?? '').split(',');
      const granted = user || !options.users ? actions : actions.filter((a) => a === 'pull');
      return { type, name: rest.join(':'), actions: granted };
    });
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = options.expiresIn ?? 300;
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const claims = base64url(
      JSON.stringify({
        iss: issuer,
        sub: user ?? '',
        aud: service,
        exp: now + expiresIn,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key);
    const token = `${header}.${claims}.${base64url(signature)}`;
    state.issued += 1;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return state;
}
