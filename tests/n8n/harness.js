// Runs the generated n8n credentials, declarative node and polling trigger the way n8n
// would (credential authenticate/test, declarative routing, poll() with its context),
// against a live connector, without n8n itself. Prints what each step returned.
'use strict';

const path = require('path');

const pkgDir = process.argv[2];
const pkg = require(path.join(pkgDir, 'package.json'));
const load = (file) => {
  const exported = require(path.join(pkgDir, file));
  const Class = Object.values(exported)[0];
  return new Class();
};
const credential = load(pkg.n8n.credentials[0]);
const [actionNode, triggerNode] = pkg.n8n.nodes.map(load);

const credentials = { baseUrl: process.env.CONNECTOR_BASE_URL, apiKey: process.env.API_KEY };
// n8n expressions used here are "={{$credentials.x}}" templates.
const expression = (value) =>
  typeof value === 'string' && value.startsWith('=')
    ? value.slice(1).replace(/\{\{\s*\$credentials\.(\w+)\s*\}\}/g, (_, key) => credentials[key])
    : value;

const send = async ({ method, url, headers = {}, body }) => {
  const authHeaders = Object.fromEntries(
    Object.entries(credential.authenticate.properties.headers).map(([k, v]) => [k, expression(v)]),
  );
  const response = await fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers, ...authHeaders },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
};

const pollContext = (mode, parameters, workflowId) => ({
  getNodeParameter: (name) => parameters[name],
  getCredentials: async (name) => {
    if (name !== credential.name) throw new Error(`unknown credentials ${name}`);
    return credentials;
  },
  getMode: () => mode,
  getWorkflow: () => ({ id: workflowId }),
  helpers: {
    httpRequestWithAuthentication: async (name, options) => {
      if (name !== credential.name) throw new Error(`unknown credentials ${name}`);
      const { status, body } = await send(options);
      if (status >= 400) throw new Error(`${status}: ${body.error}`);
      return body;
    },
    returnJsonArray: (items) => items.map((json) => ({ json })),
  },
});

// Declarative routing: requestDefaults, the operation's request, each property's send.
const runAction = async (operation, parameters) => {
  const description = actionNode.description;
  const option = description.properties[0].options.find((o) => o.value === operation);
  const body = {};
  for (const property of description.properties.slice(1)) {
    const shown = property.displayOptions.show.operation.includes(operation);
    if (shown && property.routing.send.type === 'body') {
      body[property.routing.send.property] = parameters[property.name] ?? property.default;
    }
  }
  return send({
    method: option.routing.request.method,
    url: expression(description.requestDefaults.baseURL) + option.routing.request.url,
    headers: description.requestDefaults.headers,
    body,
  });
};

const main = async () => {
  const results = {};
  const test = credential.test.request;
  results.credential_test = await send({
    method: test.method,
    url: expression(test.baseURL) + test.url,
  });
  const parameters = { handle: 'creator' };
  results.manual = await triggerNode.poll.call(pollContext('manual', parameters, 'wf-1'));
  results.first = await triggerNode.poll.call(pollContext('trigger', parameters, 'wf-1'));
  results.other_first = await triggerNode.poll.call(pollContext('trigger', parameters, 'wf-2'));
  const posted = await fetch(`${process.env.SANDBOX_URL}/_sandbox/profiles/creator/videos`, {
    method: 'POST',
  });
  results.posted = await posted.json();
  results.second = await triggerNode.poll.call(pollContext('trigger', parameters, 'wf-1'));
  results.third = await triggerNode.poll.call(pollContext('trigger', parameters, 'wf-1'));
  results.other_second = await triggerNode.poll.call(pollContext('trigger', parameters, 'wf-2'));
  results.get_video = await runAction('get_video', { url: results.posted.url });
  results.get_profile = await runAction('get_profile', { handle: '@creator' });
  results.get_video_bad = await runAction('get_video', {});
  console.log(JSON.stringify(results));
};

main().catch((error) => {
  console.error(error.stack || error);
  process.exit(1);
});
