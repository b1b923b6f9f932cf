// A permissive OAuth 2 peer (oauth2-mock-server) whose token responses carry the quirks real
// providers have. The quirk is chosen by the client id the request authenticates with, so one
// peer serves every case:
//   quirk-no-expires-in        no `expires_in` at all
//   quirk-keeps-refresh-token  short-lived tokens; refresh responses carry no new refresh token
//   quirk-comma-scopes         `scope` joined with commas instead of spaces
// Prints {"issuer","port"} on its first line; GET /test/stats counts token requests by
// client and grant type.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const counts = {};

function clientId(req) {
  const header = req.headers.authorization ?? '';
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    return decodeURIComponent(decoded.split(':')[0]);
  }
  return req.body?.client_id ?? 'anonymous';
}

const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256');
const service = new OAuth2Service(issuer);

// Two tokens issued within the same second must still differ (real providers' do): a jti.
service.on('beforeTokenSigning', (token) => {
  token.payload.jti = randomUUID();
});

service.on('beforeResponse', (response, req) => {
  const client = clientId(req);
  const grant = req.body?.grant_type ?? 'unknown';
  const key = `${client} ${grant}`;
  counts[key] = (counts[key] ?? 0) + 1;
  const body = response.body;
  switch (client) {
    case 'quirk-no-expires-in':
      delete body.expires_in;
      body.scope = 'api:read';
      break;
    case 'quirk-keeps-refresh-token':
      body.expires_in = 2;
      body.scope = 'api:read';
      if (grant === 'refresh_token') delete body.refresh_token;
      break;
    case 'quirk-comma-scopes':
      body.scope = 'api:read,api:write';
      break;
    default:
      break;
  }
  delete body.id_token;
});

const handler = service.requestHandler;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/test/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(counts));
    return;
  }
  handler(req, res);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  issuer.url = `http://127.0.0.1:${port}`;
  console.log(JSON.stringify({ issuer: issuer.url, port }));
});
