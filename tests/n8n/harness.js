// Runs the generated credentials, declarative action node and polling trigger the way n8n
// calls them (see context.js), against a live connector, and prints one JSON line of what
// each step returned. Usage: node harness.js <package dir>
'use strict';

const { connector, load, pollContext, workflowNode } = require('./context');

const { credential, nodes } = load(process.argv[2]);
const credentials = { baseUrl: process.env.CONNECTOR_BASE_URL, apiKey: process.env.API_KEY };
const http = connector(credential, credentials);
const trigger = nodes.tikTokConnectorTrigger;
const action = nodes.tikTokConnector;

const postVideo = async (handle) => {
  const url = `${process.env.SANDBOX_URL}/_sandbox/profiles/${handle}/videos`;
  return await (await fetch(url, { method: 'POST' })).json();
};

// Two published workflows with n8n's kind of ids, each with the trigger node.
const workflow = (workflowId, staticData) =>
  workflowNode({
    workflowId,
    type: 'CUSTOM.tikTokConnectorTrigger',
    name: 'New Video Posted',
    parameters: { handle: 'creator' },
    staticData,
  });
const first = workflow('4fUcJ2vX0DyQm1Bp');
const second = workflow('Qx7LmN2pR8sT0uVw');

// One poll as n8n runs it; `answers` records what the connector sent back. `lose` drops the
// answer after the connector sent it, as a connection that breaks on the way back does.
const poll = async (state, mode, answers, { lose = false } = {}) => {
  const context = pollContext(state, mode, credentials, http);
  const request = context.helpers.httpRequestWithAuthentication;
  context.helpers.httpRequestWithAuthentication = async function (...args) {
    const body = await request.apply(this, args);
    answers.push(body.map((video) => video.id));
    if (lose) throw new Error('socket hang up');
    return body;
  };
  try {
    const emitted = await trigger.poll.call(context);
    return emitted === null ? null : emitted[0].map((item) => item.json.id);
  } catch (error) {
    return { error: error.message };
  }
};

// Declarative routing: requestDefaults, the operation's request, each property's send.
const runAction = async (operation, parameters) => {
  const description = action.description;
  const option = description.properties[0].options.find((o) => o.value === operation);
  const body = {};
  for (const property of description.properties.slice(1)) {
    const shown = property.displayOptions.show.operation.includes(operation);
    if (shown && property.routing.send.type === 'body') {
      body[property.routing.send.property] = parameters[property.name] ?? property.default;
    }
  }
  return http.send({
    method: option.routing.request.method,
    url: http.expression(description.requestDefaults.baseURL) + option.routing.request.url,
    headers: description.requestDefaults.headers,
    body,
  });
};

const main = async () => {
  const results = { answers: {} };
  const test = credential.test.request;
  results.credential_test = await http.send({
    method: test.method,
    url: http.expression(test.baseURL) + test.url,
  });
  // Each poll makes one request: its answer's ids, under `key`.
  const answers = (key) => ({ push: (ids) => (results.answers[key] = ids) });

  results.manual = await poll(first, 'manual', answers('manual'));
  results.static_after_manual = { ...first.staticData };
  results.first = await poll(first, 'trigger', answers('first'));
  results.other_first = await poll(second, 'trigger', answers('other_first'));

  results.posted = await postVideo('creator');
  results.second = await poll(first, 'trigger', answers('second'));
  results.third = await poll(first, 'trigger', answers('third'));
  results.other_second = await poll(second, 'trigger', answers('other_second'));

  results.posted_lost = await postVideo('creator');
  results.lost = await poll(first, 'trigger', answers('lost'), { lose: true });
  results.recovered = await poll(first, 'trigger', answers('recovered'));
  results.after_recovery = await poll(first, 'trigger', answers('after_recovery'));
  results.emitted_ids = first.staticData.emittedIds;

  // A node that has emitted many videos keeps only the latest ids.
  const full = workflow('Zz9Yy8Xx7Ww6Vv5U', {
    emittedIds: Array.from({ length: 500 }, (_, i) => String(7000000000000000000n + BigInt(i))),
  });
  await poll(full, 'trigger', answers('full_first'));
  results.posted_full = await postVideo('creator');
  results.full = await poll(full, 'trigger', answers('full'));
  results.full_emitted_ids = full.staticData.emittedIds;

  results.get_video = await runAction('get_video', { url: results.posted.url });
  results.get_profile = await runAction('get_profile', { handle: '@creator' });
  results.get_video_bad = await runAction('get_video', {});
  console.log(JSON.stringify(results));
};

main().catch((error) => {
  console.error(error.stack || error);
  process.exit(1);
});
