// A local OpenID Connect provider for the runtime tests (npm `oidc-provider`, OpenID Certified).
//
//   node tests/runtime/oidc/provider.mjs config.json
//
// config.json:
//   {
//     "host": "127.0.0.1", "port": 9400,                 // issuer defaults to http://host:port
//     "issuer": "http://127.0.0.1:9400",                 // optional
//     "clients": [{"client_id": "mlflow", "client_secret": "s3cret",
//                  "redirect_uris": ["http://127.0.0.1:5000/callback"],
//                  "token_endpoint_auth_method": "client_secret_basic"}],   // optional, this default
//     "users": {"alice": {"password": "pw", "email": "alice@example.com", "name": "Alice",
//                         "groups": ["mlflow-users"]}},
//     "groups_claim": "groups",                           // optional, this default
//     "signing_key_pem": "/path/key.pem",                 // optional RSA key (RS256, kid "runtime-tests")
//     "jwt_access_tokens": false                          // optional: Keycloak-style JWT access tokens
//   }
//
// With "jwt_access_tokens", access tokens are JWTs (as Keycloak issues them) with the client id as
// audience and the user's email, groups and `realm_access.roles` (a user's optional "roles"), so a
// relying party that reads roles from the access token (OAuth2-Proxy's keycloak-oidc) finds them.
//
// Login is a plain HTML form (POST username/password to /interaction/<uid>/login) that checks the
// password; consent is granted automatically (first-party client), so a plain HTTP client can
// walk the whole authorization-code flow. Scope claims (email, profile, groups) are put in the
// id_token as well as in userinfo. When listening, prints one line: `READY <issuer>`.

import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const host = config.host ?? '127.0.0.1';
const port = config.port ?? 9400;
const issuer = config.issuer ?? `http://${host}:${port}`;
const groupsClaim = config.groups_claim ?? 'groups';
const users = config.users ?? {};

const jwks = config.signing_key_pem
  ? { keys: [{ ...createPrivateKey(readFileSync(config.signing_key_pem)).export({ format: 'jwk' }), kid: 'runtime-tests', alg: 'RS256', use: 'sig' }] }
  : undefined;
const jwtAccessTokens = Boolean(config.jwt_access_tokens);
const API_RESOURCE = 'urn:runtime-tests:api';
const userClaims = (id) => {
  const user = users[id] ?? {};
  return {
    email: user.email ?? `${id}@example.com`,
    email_verified: true,
    name: user.name ?? id,
    preferred_username: id,
    [groupsClaim]: user.groups ?? [],
  };
};

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(issuer, {
  clients: (config.clients ?? []).map((c) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  claims: {
    // The groups claim also comes with `openid`, as a Keycloak group mapper adds it whatever the scope.
    openid: ['sub', groupsClaim],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    [groupsClaim]: [groupsClaim],
  },
  scopes: ['openid', 'email', 'profile', groupsClaim, 'offline_access'],
  conformIdTokenClaims: false,
  ...(jwks ? { jwks } : {}),
  features: {
    devInteractions: { enabled: false },
    ...(jwtAccessTokens
      ? {
          resourceIndicators: {
            enabled: true,
            defaultResource: () => API_RESOURCE,
            useGrantedResource: () => true,
            getResourceServerInfo: (ctx, resource, client) => ({
              scope: ['openid', 'email', 'profile', groupsClaim, 'offline_access'].join(' '),
              audience: client.clientId,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            }),
          },
        }
      : {}),
  },
  extraTokenClaims: async (ctx, token) => {
    if (!jwtAccessTokens || token.kind !== 'AccessToken' || !token.accountId) return undefined;
    const { email, email_verified, preferred_username } = userClaims(token.accountId);
    return {
      email, email_verified, preferred_username,
      [groupsClaim]: userClaims(token.accountId)[groupsClaim],
      realm_access: { roles: users[token.accountId]?.roles ?? [] },
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['runtime-tests-only'] },
  findAccount: async (ctx, id) => {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      claims: async () => ({ sub: id, ...userClaims(id) }),
    };
  },
  // Consent without a form: grant what the client asked for.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const { clientId } = ctx.oidc.client;
    const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
    if (jwtAccessTokens) grant.addResourceScope(API_RESOURCE, ctx.oidc.params.scope ?? 'openid');
    await grant.save();
    return grant;
  },
});

function loginPage(res, uid, message = '') {
  res.writeHead(message ? 401 : 200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Sign in</title>
<form method="post" action="/interaction/${escape(uid)}/login">
${message ? `<p class="error">${escape(message)}</p>` : ''}
<input name="username" autocomplete="username"> <input name="password" type="password">
<button type="submit">Sign in</button></form>`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login') {
    // Consent is handled by loadExistingGrant; anything else finishes as is.
    return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
  }
  if (req.method === 'GET') return loginPage(res, uid);
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const user = users[form.get('username')];
    if (!user || user.password !== form.get('password')) return loginPage(res, uid, 'invalid username or password');
    return provider.interactionFinished(req, res, { login: { accountId: form.get('username') } },
      { mergeWithLastSubmission: false });
  }
  res.writeHead(405).end();
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(?:\/([a-z]+))?/);
  if (!match) return callback(req, res);
  interaction(req, res, match[1], match[2]).catch((err) => {
    console.error(err);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err?.message ?? err));
  });
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(port, host, () => {
  console.log(`READY ${issuer}`);
});
