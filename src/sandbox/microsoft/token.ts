import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearer, formBody } from '../http.js';
import { grantedGraphRoles } from '../permissions.js';
import type { MicrosoftTenant, SandboxState } from '../state.js';
import { sendAadError, sendGraphError } from './errors.js';

const EXPIRES_IN_SECS = 3599;
const GRAPH_RESOURCE = 'https://graph.microsoft.com';
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
const ROLES = ['User.Read.All', 'Calendars.Read', 'Place.Read.All'];

/** The claims of a sandbox Graph token (a real-looking JWT, HS256-signed by the sandbox). */
export type GraphAccess = { tid: string; appid: string; roles: string[]; exp: number; sbx_epoch: number };

function knownTenant(t: MicrosoftTenant, tenant: string): boolean {
  const k = tenant.toLowerCase();
  return k === t.tenantId || k === t.org.domain;
}

function tenantNotFound(reply: FastifyReply, tenant: string): FastifyReply {
  return sendAadError(
    reply,
    400,
    'invalid_request',
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  );
}

/** client_id/client_secret from the form, or from HTTP Basic auth. */
function clientCredentials(
  req: FastifyRequest,
  body: Record<string, string>,
): { id?: string; secret?: string } {
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const [id, ...rest] = Buffer.from(basic[1] as string, 'base64')
      .toString('utf8')
      .split(':');
    return { id: decodeURIComponent(id ?? ''), secret: decodeURIComponent(rest.join(':')) };
  }
  return {
    ...(body.client_id ? { id: body.client_id } : {}),
    ...(body.client_secret ? { secret: body.client_secret } : {}),
  };
}

export function registerMicrosoftToken(app: FastifyInstance, state: SandboxState): void {
  const tokenConfig = { kind: 'microsoft-token' as const };

  app.get<{ Params: { tenant: string } }>(
    '/:tenant/v2.0/.well-known/openid-configuration',
    { config: tokenConfig },
    (req, reply) => {
      const t = state.microsoft;
      if (!t || !knownTenant(t, req.params.tenant)) {
        return tenantNotFound(reply, req.params.tenant);
      }
      const base = `${state.url}/${t.tenantId}`;
      return reply.send({
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${state.graphLinkOrigin}/oidc/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid'],
        kerberos_endpoint: `${base}/kerberos`,
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com',
      });
    },
  );

  app.post<{ Params: { tenant: string } }>(
    '/:tenant/oauth2/v2.0/token',
    { config: tokenConfig },
    (req, reply) => {
      const t = state.microsoft;
      const body = formBody(req);
      if (!t || !knownTenant(t, req.params.tenant)) {
        return tenantNotFound(reply, req.params.tenant);
      }
      if (body.grant_type !== 'client_credentials') {
        return sendAadError(
          reply,
          400,
          'unsupported_grant_type',
          70003,
          'The app requested an unsupported grant type.',
        );
      }
      const creds = clientCredentials(req, body);
      if (!creds.id || creds.id.toLowerCase() !== t.clientId) {
        return sendAadError(
          reply,
          400,
          'unauthorized_client',
          700016,
          `Application with identifier '${creds.id ?? ''}' was not found in the directory '${t.org.domain}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
        );
      }
      if (!t.consent.granted && t.consent.mode === 'service_principal_missing') {
        return sendAadError(
          reply,
          401,
          'invalid_client',
          7000229,
          `The client application ${t.clientId} is missing service principal in the tenant ${t.tenantId}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119`,
        );
      }
      if (!creds.secret) {
        return sendAadError(
          reply,
          401,
          'invalid_client',
          7000216,
          "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        );
      }
      if (creds.secret !== t.clientSecret) {
        return sendAadError(
          reply,
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${t.clientId}'.`,
        );
      }
      if (t.secretExpired) {
        return sendAadError(
          reply,
          401,
          'invalid_client',
          7000222,
          `The provided client secret keys for app '${t.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
        );
      }
      const scope = body.scope ?? '';
      if (!scope.endsWith('/.default')) {
        return sendAadError(
          reply,
          400,
          'invalid_scope',
          1002012,
          `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        );
      }
      const resource = scope.slice(0, -'/.default'.length);
      if (resource !== GRAPH_RESOURCE && resource !== `${GRAPH_RESOURCE}/` && resource !== GRAPH_APP_ID) {
        return sendAadError(
          reply,
          400,
          'invalid_resource',
          500011,
          `The resource principal named ${resource} was not found in the tenant named ${t.org.domain}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
        );
      }
      if (!t.consent.granted && t.consent.mode === 'consent_required') {
        return sendAadError(
          reply,
          400,
          'invalid_grant',
          65001,
          `The user or administrator has not consented to use the application with ID '${t.clientId}' named '${t.appName}'. Send an interactive authorization request for this user and resource.`,
          { suberror: 'consent_required' },
        );
      }
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        aud: GRAPH_RESOURCE,
        iss: `https://sts.windows.net/${t.tenantId}/`,
        iat: now,
        nbf: now,
        exp: now + EXPIRES_IN_SECS,
        app_displayname: t.appName,
        appid: t.clientId,
        idtyp: 'app',
        oid: randomUUID(),
        roles: t.consent.granted ? grantedGraphRoles(state, ROLES) : [],
        tid: t.tenantId,
        ver: '1.0',
        sbx_epoch: t.epoch,
      };
      state.counters.tokenIssued('microsoft');
      return reply.header('cache-control', 'no-store, no-cache').send({
        token_type: 'Bearer',
        expires_in: EXPIRES_IN_SECS,
        ext_expires_in: EXPIRES_IN_SECS,
        access_token: state.signer.signJwt(claims),
      });
    },
  );
}

/**
 * The caller of a Graph route: 401 InvalidAuthenticationToken without a valid token; 403 when the
 * app's consent was revoked since (or the token has no roles). `directory` picks the 403 flavour.
 */
export function authenticateGraph(
  state: SandboxState,
  req: FastifyRequest,
  reply: FastifyReply,
  directory: boolean,
): MicrosoftTenant | undefined {
  const t = state.microsoft;
  const token = bearer(req);
  const unauthorized = (message: string) => {
    sendGraphError(req, reply, 401, 'InvalidAuthenticationToken', message);
    return undefined;
  };
  if (!t || !token) {
    return unauthorized('Access token is empty.');
  }
  if (token.split('.').length !== 3) {
    return unauthorized('CompactToken parsing failed with error code: 80049217');
  }
  const access = state.signer.verifyJwt<GraphAccess>(token);
  if (!access || access.tid !== t.tenantId) {
    return unauthorized('Access token validation failure. Invalid audience.');
  }
  if (access.exp * 1000 < Date.now()) {
    return unauthorized('Lifetime validation failed, the token is expired.');
  }
  if (access.roles.length === 0 || access.sbx_epoch !== t.epoch || !t.consent.granted) {
    sendGraphError(
      req,
      reply,
      403,
      directory ? 'Authorization_RequestDenied' : 'ErrorAccessDenied',
      directory
        ? 'Insufficient privileges to complete the operation.'
        : 'Access is denied. Check credentials and try again.',
    );
    return undefined;
  }
  return t;
}
