// Runs the generated instant trigger the way n8n does (see context.js) against a live
// connector: webhookMethods.default.checkExists/create/delete as n8n calls them when a
// workflow is published, listened to and unpublished, and webhook() behind an HTTP server on
// 127.0.0.1 that stands for n8n's webhook endpoint, so the connector's own deliveries reach it.
// Poll cycles run in the test process: this script writes {"need": "cycle"} and waits for a
// line on stdin. It ends by printing {"results": ...}.
// Usage: node instant.js <package dir>
'use strict';

const crypto = require('crypto');
const httpServer = require('http');
const readline = require('readline');

const { connector, hookContext, load, webhookContext, workflowNode } = require('./context');

const { credential, nodes } = load(process.argv[2]);
const credentials = { baseUrl: process.env.CONNECTOR_BASE_URL, apiKey: process.env.API_KEY };
const http = connector(credential, credentials);
const trigger = nodes.tikTokConnectorInstantTrigger;

const input = readline.createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();
const cycle = async () => {
  console.log(JSON.stringify({ need: 'cycle' }));
  const { value, done } = await lines.next();
  if (done) throw new Error('the test stopped answering');
  return JSON.parse(value);
};

const postVideo = async (handle) => {
  const url = `${process.env.SANDBOX_URL}/_sandbox/profiles/${handle}/videos`;
  return await (await fetch(url, { method: 'POST' })).json();
};

const state = workflowNode({
  workflowId: '4fUcJ2vX0DyQm1Bp',
  type: 'CUSTOM.tikTokConnectorInstantTrigger',
  name: 'New Video Posted (Instant)',
  parameters: { handle: 'creator' },
});

// n8n's webhook endpoint for this node: the request goes to webhook(); a result with
// noWebhookResponse means the node answered itself (401 here); workflowData starts an
// execution, answered "Workflow was started" (responseMode onReceived); webhookResponse
// alone is answered as is and starts nothing (packages/cli/src/webhooks/webhook-helpers.ts).
const deliveries = [];
const executions = [];
const calls = [];
const server = httpServer.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    const rawBody = Buffer.concat(chunks);
    let body = {};
    try {
      body = JSON.parse(rawBody.toString());
    } catch {}
    const request = {
      headers: req.headers,
      rawBody,
      body,
      header: (name) => req.headers[name.toLowerCase()],
    };
    let answered = null;
    const response = {
      status(code) {
        answered = { status: code };
        return this;
      },
      send(text) {
        answered.body = text;
        return this;
      },
      end() {
        res.writeHead(answered.status, { 'Content-Type': 'text/plain' });
        res.end(answered.body ?? '');
      },
    };
    const label = req.headers['x-test-label'] || 'connector';
    const delivery = {
      label,
      path: req.url,
      headers: Object.fromEntries(
        Object.entries(req.headers).filter(([name]) => name.startsWith('webhook-')),
      ),
      body: rawBody.toString(),
    };
    deliveries.push(delivery);
    try {
      const result = await trigger.webhook.call(
        webhookContext(state, request, response, credentials, http, calls),
      );
      if (result.noWebhookResponse) {
        delivery.status = answered && answered.status;
        return;
      }
      if (result.workflowData) {
        executions.push({ label, items: result.workflowData[0].map((item) => item.json) });
      }
      const answer = result.workflowData
        ? { message: 'Workflow was started' }
        : result.webhookResponse;
      Object.assign(delivery, { status: 200, answer });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer));
    } catch (error) {
      Object.assign(delivery, { status: 500, answer: error.message });
      res.writeHead(500);
      res.end(error.message);
    }
  });
});

const listening = new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

// Standard Webhooks signing, for the deliveries this test forges.
const sign = (secret, id, timestamp, body) =>
  crypto
    .createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
    .update(`${id}.${timestamp}.${body}`)
    .digest('base64');

const deliver = async (url, label, headers, body) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'x-test-label': label, ...headers },
    body,
  });
  return response.status;
};

const main = async () => {
  await listening;
  const { port } = server.address();
  // n8n's production and test URLs of a webhook node: <base>/webhook/<webhookId>/<path> and
  // <base>/webhook-test/<webhookId>/<path> (packages/cli/src/webhooks/webhook.service.ts).
  const base = `http://127.0.0.1:${port}`;
  const productionUrl = `${base}/webhook/${state.node.webhookId}/webhook`;
  const testUrl = `${base}/webhook-test/${state.node.webhookId}/webhook`;
  const hook = (method, { mode = 'trigger', url = productionUrl, on = state } = {}) =>
    trigger.webhookMethods.default[method].call(hookContext(on, mode, url, credentials, http, calls));
  const subscription = async (id) =>
    await http.send({ method: 'GET', url: `${credentials.baseUrl}/v1/hooks/${id}` });
  const results = {};

  // Publishing: checkExists, then create when it answered false
  // (packages/cli/src/webhooks/webhook.service.ts createWebhookIfNotExists).
  results.exists_before = await hook('checkExists');
  results.created = await hook('create');
  const subscriptionId = state.staticData.subscriptionId;
  results.subscription_id = subscriptionId;
  results.has_secret = String(state.staticData.secret).startsWith('whsec_');
  results.exists_after = await hook('checkExists');
  results.subscription = (await subscription(subscriptionId)).body;

  // A real delivery: the connector's poll cycle signs and POSTs the new video to the node.
  results.posted = await postVideo('creator');
  results.cycle = await cycle();

  // Forged, stale, tampered and replayed deliveries to the same endpoint.
  const secret = state.staticData.secret;
  const now = Math.floor(Date.now() / 1000);
  const video = JSON.stringify({ ...results.posted, caption: 'forged' });
  const other = `whsec_${crypto.randomBytes(24).toString('base64')}`;
  const signed = (label, id, timestamp, signature, body = video) =>
    deliver(
      productionUrl,
      label,
      { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature },
      body,
    );
  const real = deliveries.find((d) => d.label === 'connector');
  const tampered = JSON.stringify({ ...JSON.parse(real.body), caption: 'tampered' });
  results.forgeries = {
    other_secret: await signed('other_secret', 'msg_f1', now, `v1,${sign(other, 'msg_f1', now, video)}`),
    unsigned: await deliver(productionUrl, 'unsigned', {}, video),
    stale: await signed('stale', 'msg_f2', now - 600, `v1,${sign(secret, 'msg_f2', now - 600, video)}`),
    future: await signed('future', 'msg_f3', now + 600, `v1,${sign(secret, 'msg_f3', now + 600, video)}`),
    wrong_version: await signed('wrong_version', 'msg_f4', now, `v2,${sign(secret, 'msg_f4', now, video)}`),
    other_id: await signed('other_id', 'msg_f5', now, `v1,${sign(secret, 'msg_f6', now, video)}`),
    tampered: await deliver(productionUrl, 'tampered', real.headers, tampered),
  };
  // The connector's delivery again (a retry keeps its webhook-id): answered, not run again.
  results.replayed = await deliver(productionUrl, 'replayed', real.headers, real.body);
  // Several signatures: one valid one is enough (Standard Webhooks).
  const rotated = JSON.stringify({ ...results.posted, id: '7000000000000000001' });
  results.several_signatures = await signed(
    'several_signatures',
    'msg_s1',
    now,
    `v1,${sign(other, 'msg_s1', now, rotated)} v1,${sign(secret, 'msg_s1', now, rotated)}`,
    rotated,
  );

  // "Listen for test event": its own static data and the test URL, a subscription of its own,
  // deleted when the listening ends (packages/cli/src/webhooks/test-webhooks.ts).
  const testing = { ...state, staticData: {} };
  results.test_exists = await hook('checkExists', { mode: 'manual', url: testUrl, on: testing });
  results.test_created = await hook('create', { mode: 'manual', url: testUrl, on: testing });
  const testId = testing.staticData.subscriptionId;
  results.test_subscription = (await subscription(testId)).body;
  results.test_deleted = await hook('delete', { mode: 'manual', url: testUrl, on: testing });
  results.test_gone = (await subscription(testId)).status;
  results.production_kept = (await subscription(subscriptionId)).status;

  // n8n's webhook URL changed (WEBHOOK_URL) while the workflow stayed published: the old
  // subscription is replaced.
  const movedUrl = `${base}/moved/webhook/${state.node.webhookId}/webhook`;
  results.moved_exists = await hook('checkExists', { url: movedUrl });
  results.moved_old = (await subscription(subscriptionId)).status;
  results.moved_created = await hook('create', { url: movedUrl });
  const movedId = state.staticData.subscriptionId;
  results.moved_target = (await subscription(movedId)).body.target_url;

  // Unpublishing: delete; the connector forgets the subscription, the node its id and secret.
  results.deleted = await hook('delete', { url: movedUrl });
  results.static_after_delete = { ...state.staticData };
  delete results.static_after_delete.deliveryIds;
  results.gone = (await subscription(movedId)).status;
  results.deleted_again = await hook('delete', { url: movedUrl });

  // A subscription removed on the connector's side: checkExists says so and forgets it.
  state.staticData.subscriptionId = 'sub_000000000000000000000000';
  state.staticData.secret = secret;
  results.exists_removed = await hook('checkExists');
  results.static_after_removed = {
    subscriptionId: state.staticData.subscriptionId,
    secret: state.staticData.secret,
  };

  // Nothing is delivered after unsubscribing.
  const before = deliveries.length;
  await postVideo('creator');
  results.cycle_after_delete = await cycle();
  results.deliveries_after_delete = deliveries.length - before;

  results.received = deliveries.map(({ label, path, status, answer }) => ({
    label,
    path,
    status,
    answer,
  }));
  results.executions = executions;
  results.calls = calls;
  console.log(JSON.stringify({ results }));
};

main()
  .catch((error) => {
    console.error(error.stack || error);
    process.exitCode = 1;
  })
  .finally(() => {
    input.close();
    server.close();
  });
