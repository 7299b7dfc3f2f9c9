// What n8n hands the generated nodes, for running them without n8n: the package's classes
// loaded from package.json's "n8n" lists, the credential's authenticate/test, and the `this`
// of poll(), of webhookMethods (hook functions) and of webhook(), each with the members the
// nodes use, behaving as n8n 2.41 does (sources cited at each).
// Needs NODE_PATH to hold n8n-workflow, as n8n gives custom nodes its own node_modules
// (packages/cli/src/load-nodes-and-credentials.ts, init()).
'use strict';

const path = require('path');

const load = (pkgDir) => {
  const pkg = require(path.join(pkgDir, 'package.json'));
  const instance = (file) => {
    const exported = require(path.join(pkgDir, file));
    const Class = Object.values(exported)[0];
    return new Class();
  };
  const credential = instance(pkg.n8n.credentials[0]);
  const nodes = Object.fromEntries(
    pkg.n8n.nodes.map(instance).map((node) => [node.description.name, node]),
  );
  return { pkg, credential, nodes };
};

// A credential's "={{$credentials.x}}" templates, as n8n resolves them.
const resolver = (credentials) => (value) =>
  typeof value === 'string' && value.startsWith('=')
    ? value.slice(1).replace(/\{\{\s*\$credentials\.(\w+)\s*\}\}/g, (_, key) => credentials[key])
    : value;

const connector = (credential, credentials) => {
  const expression = resolver(credentials);
  const authHeaders = () =>
    Object.fromEntries(
      Object.entries(credential.authenticate.properties.headers).map(([k, v]) => [
        k,
        expression(v),
      ]),
    );
  const send = async ({ method, url, headers = {}, body }) => {
    const response = await fetch(url, {
      method,
      headers: { 'Content-Type': 'application/json', ...headers, ...authHeaders() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  // helpers.httpRequestWithAuthentication: the credential type's headers added; a status
  // >= 400 throws unless ignoreHttpStatusErrors; returnFullResponse gives { body,
  // statusCode } (@n8n/backend-network src/http/axios/request.ts, httpRequest).
  const httpRequestWithAuthentication = (calls) =>
    async function (name, options) {
      if (name !== credential.name) throw new Error(`unknown credentials ${name}`);
      const { status, body } = await send(options);
      calls.push({ method: options.method, url: options.url, body: options.body, status });
      if (status >= 400 && !options.ignoreHttpStatusErrors) {
        throw Object.assign(new Error(`${status}: ${body && body.error}`), { httpCode: status });
      }
      return options.returnFullResponse ? { body, statusCode: status } : body;
    };
  return { credentialName: credential.name, send, expression, httpRequestWithAuthentication };
};

// One node of one workflow, with the static data n8n keeps for it (getWorkflowStaticData
// ('node')), shared by every context made for it, as n8n's workflow.staticData is.
const workflowNode = ({ workflowId, type, name, parameters, staticData = {} }) => ({
  workflow: { id: workflowId, name: `Workflow ${workflowId}`, active: true },
  node: {
    id: `node-${workflowId}`,
    name,
    type,
    typeVersion: 1,
    parameters,
    webhookId: '6b2a4c8e-1f3d-4e5a-9b7c-0d1e2f3a4b5c',
  },
  staticData,
});

const returnJsonArray = (items) => (Array.isArray(items) ? items : [items]).map((json) => ({ json }));

const baseContext = (state, mode, credentials, http, calls) => ({
  getNode: () => state.node,
  getNodeParameter: (name) => state.node.parameters[name],
  // n8n's workflow ids are strings such as "4fUcJ2vX0DyQm1Bp"; getWorkflow() gives
  // { id, name, active } (packages/core/src/execution-engine/node-execution-context/
  // node-execution-context.ts; packages/workflow/src/workflow.ts `id: string`).
  getWorkflow: () => ({ ...state.workflow }),
  getMode: () => mode,
  getWorkflowStaticData: (type) => {
    if (type !== 'node') throw new Error(`static data ${type} is not used`);
    return state.staticData;
  },
  getCredentials: async (name) => {
    if (name !== http.credentialName) throw new Error(`unknown credentials ${name}`);
    return credentials;
  },
  logger: { warn: (message) => calls.push({ warning: message }) },
  helpers: {
    httpRequestWithAuthentication: http.httpRequestWithAuthentication(calls),
    returnJsonArray,
  },
});

// The `this` of poll(): mode "manual" for "Fetch test event", "trigger" when published
// (packages/core/src/execution-engine/workflow-execute.ts executePollNode;
// packages/cli/src/workflows/triggers/trigger-execution-context.factory.ts).
const pollContext = (state, mode, credentials, http, calls = []) =>
  baseContext(state, mode, credentials, http, calls);

// The `this` of webhookMethods.default.*: getNodeWebhookUrl('default') is the production
// URL when published, the test URL while listening for a test event
// (packages/cli/src/webhooks/webhook.service.ts runWebhookMethod, HookContext).
const hookContext = (state, mode, webhookUrl, credentials, http, calls = []) => ({
  ...baseContext(state, mode, credentials, http, calls),
  getNodeWebhookUrl: (name) => (name === 'default' ? webhookUrl : undefined),
  getActivationMode: () => (mode === 'manual' ? 'manual' : 'activate'),
});

// The `this` of webhook(): the request with req.rawBody, the bytes n8n read before parsing
// (packages/cli/src/middlewares/body-parser.ts), its headers (lower-case, as Node gives
// them), and an Express-like response.
const webhookContext = (state, request, response, credentials, http, calls = []) => ({
  ...baseContext(state, 'webhook', credentials, http, calls),
  getHeaderData: () => request.headers,
  getRequestObject: () => request,
  getResponseObject: () => response,
  getBodyData: () => request.body,
});

module.exports = {
  connector,
  hookContext,
  load,
  pollContext,
  returnJsonArray,
  webhookContext,
  workflowNode,
};
