// Checks an X-Auth-Request-Assertion the way an upstream app should: the signature against
// gatehouse's published keys, the algorithm, the issuer and the age. Prints the verified
// header and claims as JSON; exits non-zero when anything fails.
//
//   node verify-assertion.mjs <jwks url> <issuer = PUBLIC_URL> <assertion>
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksUrl, issuer, token] = process.argv.slice(2);
const keys = createRemoteJWKSet(new URL(jwksUrl));
try {
  const { payload, protectedHeader } = await jwtVerify(token, keys, {
    issuer,
    algorithms: ['ES256'],
    requiredClaims: ['sub', 'iat', 'exp'],
    maxTokenAge: '60s',
  });
  console.log(JSON.stringify({ header: protectedHeader, claims: payload }));
} catch (e) {
  console.error(`refused: ${e.code ?? e.name}: ${e.message}`);
  process.exit(1);
}
