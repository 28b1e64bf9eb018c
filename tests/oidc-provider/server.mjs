// A real OpenID Provider (panva/oidc-provider, OpenID Certified) for gatehouse's tests.
//
// Listens on 127.0.0.1 only; prints "LISTENING <port>" once ready; exits when its stdin closes,
// so a test process that dies never leaves it behind.
//
//   node server.mjs [--port N] [--client JSON]...
//
// A line "stall N" on stdin makes the back-channel endpoints (discovery, JWKS, token, userinfo)
// hold every request for the next N seconds before answering, as a provider that has stopped
// answering would; the browser's pages keep working (bench/faults.sh).
//
// Clients are registered per test through dynamic registration (POST /reg). Accounts are made
// up from the login typed into the dev login form:
//   alice                     -> sub "alice", email alice@example.test (verified), name "Alice"
//   ada.lovelace              -> name "Ada Lovelace", and no picture
//   carol@shared.test         -> sub "carol@shared.test", that email, verified
//   unverified+carol@shared.test -> sub as typed, email carol@shared.test, NOT verified
import http from 'node:http';
import Provider from 'oidc-provider';

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const wantedPort = portArg >= 0 ? Number(args[portArg + 1]) : 0;
// --client '{"client_id":…,"client_secret":…,"redirect_uris":[…]}' registers a client up front
// (for tests that must configure gatehouse before the provider is running).
const clients = args.flatMap((a, i) => (a === '--client' ? [JSON.parse(args[i + 1])] : []));

function account(login) {
  const unverified = login.startsWith('unverified+');
  const bare = unverified ? login.slice('unverified+'.length) : login;
  const email = bare.includes('@') ? bare : `${bare}@example.test`;
  const local = email.split('@')[0];
  const name = local.split('.').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
  const claims = { sub: login, email, email_verified: !unverified, name };
  // "ada.lovelace" style logins have no picture (the profile shows initials).
  if (!local.includes('.')) claims.picture = `https://avatars.example.test/${encodeURIComponent(local)}.png`;
  return claims;
}

const server = http.createServer();
server.listen(wantedPort, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    features: {
      registration: { enabled: true },
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'picture'],
    },
    scopes: ['openid', 'email', 'profile'],
    pkce: { required: () => true },
    clients,
    cookies: { keys: ['gatehouse-test-cookie-key-not-secret'] },
    // Back-channel logout calls the app under test, which is on loopback: oidc-provider's
    // SSRF guard (its dispatcher) refuses special-use addresses, so plain fetch is used.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return fetch(url, rest);
    },
    async findAccount(ctx, id) {
      return { accountId: id, async claims() { return account(id); } };
    },
  });
  provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));
  provider.on('backchannel.error', (ctx, err, client) => console.error('oidc-provider backchannel.error', client.clientId, err.message, err.cause && (err.cause.code || err.cause.message)));
  const handle = provider.callback();
  server.on('request', (req, res) => {
    const wait = stalledUntil - Date.now();
    if (wait > 0 && BACKCHANNEL.test(req.url)) setTimeout(() => handle(req, res), wait);
    else handle(req, res);
  });
  console.log(`LISTENING ${port}`);
});

let stalledUntil = 0;
const BACKCHANNEL = /^\/(token|jwks|me|\.well-known\/)/;
let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const [verb, arg] = pending.slice(0, nl).trim().split(/\s+/);
    pending = pending.slice(nl + 1);
    if (verb === 'stall') stalledUntil = Date.now() + Number(arg) * 1000;
  }
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
