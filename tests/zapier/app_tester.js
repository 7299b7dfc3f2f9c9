// Runs the generated Zapier app through zapier-platform-core's createAppTester against a
// live connector on the sandbox upstream (SANDBOX_URL), with the values Zapier really sends:
// - bundle.meta.zap.id is a number (zapier-platform-core, test/create-request-client.js
//   feeds meta.zap.id = 987 and expects 987 back), and a whole-string "{{bundle.meta.zap.id}}"
//   keeps that type (src/tools/cleaner.js, recurseReplaceBank);
// - bundle.meta.isLoadingSample is a boolean; while a zap is set up there may be no zap;
// - the connector's URL comes from the connection (authData.base_url), or from
//   process.env.CONNECTOR_BASE_URL when the connection leaves it empty.
'use strict';

const path = require('path');

const appDir = process.argv[2];
const zapier = require(require.resolve('zapier-platform-core', { paths: [appDir] }));
const App = require(path.join(appDir, 'index.js'));
const appTester = zapier.createAppTester(App);

const connectorUrl = process.env.CONNECTOR_URL;
const authData = { api_key: process.env.API_KEY, base_url: `${connectorUrl}/` };
const handle = 'creator';
const zapId = 987654321;
const polling = App.triggers.new_video.operation;
const hook = App.triggers.new_video_instant.operation;

const poll = (meta) => appTester(polling.perform, { authData, inputData: { handle }, meta });

const attempt = async (fn) => {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error: error.message, name: error.name };
  }
};

const postVideo = async () => {
  const posted = await fetch(`${process.env.SANDBOX_URL}/_sandbox/profiles/${handle}/videos`, {
    method: 'POST',
  });
  return posted.json();
};

// Zapier triggers a zap once per new id: its own dedup, modelled as the ids this zap saw.
const seen = new Set();
const triggered = (items) => items.filter((item) => !seen.has(item.id) && seen.add(item.id));

const main = async () => {
  const results = {};
  results.auth = await appTester(App.authentication.test, { authData });
  results.auth_from_env = await appTester(App.authentication.test, {
    authData: { api_key: process.env.API_KEY, base_url: '' },
  });
  results.bad_auth = await attempt(() =>
    appTester(App.authentication.test, { authData: { ...authData, api_key: 'sk_invalid_key' } }),
  );
  // The editor's "test trigger": no zap yet, isLoadingSample true.
  results.sample = await poll({ isLoadingSample: true, zap: '' });
  results.baseline = triggered(await poll({ isLoadingSample: false, zap: { id: zapId } }));
  results.posted = await postVideo();
  results.new_videos = triggered(await poll({ isLoadingSample: false, zap: { id: zapId } }));
  results.again = triggered(await poll({ isLoadingSample: false, zap: { id: zapId } }));
  results.raw_again = await poll({ isLoadingSample: false, zap: { id: zapId } });

  results.subscribe = await appTester(hook.performSubscribe, {
    authData,
    inputData: { handle },
    targetUrl: 'https://hooks.zapier.test/hooks/standard/1/abc/',
    meta: { zap: { id: zapId } },
  });
  results.perform_list = await appTester(hook.performList, { authData, inputData: { handle } });
  results.perform = await appTester(hook.perform, {
    authData,
    inputData: { handle },
    cleanedRequest: results.sample[0],
  });
  results.unsubscribe = await appTester(hook.performUnsubscribe, {
    authData,
    inputData: { handle },
    subscribeData: results.subscribe,
  });

  results.find_video = await appTester(App.searches.find_video.operation.perform, {
    authData,
    inputData: { url: results.posted.url, video_id: '' },
  });
  results.find_video_by_id = await appTester(App.searches.find_video.operation.perform, {
    authData,
    inputData: { url: '', video_id: results.posted.id },
  });
  results.find_missing_video = await appTester(App.searches.find_video.operation.perform, {
    authData,
    inputData: { video_id: '123456789' },
  });
  results.find_profile = await appTester(App.searches.find_profile.operation.perform, {
    authData,
    inputData: { handle: '@Creator' },
  });
  results.find_missing_profile = await appTester(App.searches.find_profile.operation.perform, {
    authData,
    inputData: { handle: 'missing_person' },
  });
  results.find_bad_input = await attempt(() =>
    appTester(App.searches.find_video.operation.perform, {
      authData,
      inputData: { url: 'https://example.com/not-tiktok' },
    }),
  );
  results.get_profile = await appTester(App.creates.get_profile.operation.perform, {
    authData,
    inputData: { handle: '@Creator' },
  });
  results.not_found = await attempt(() =>
    appTester(App.creates.get_profile.operation.perform, {
      authData,
      inputData: { handle: 'missing_person' },
    }),
  );
  // Upstream rate limits the feed (DumplingAI 503): the connector answers 429 + Retry-After.
  await fetch(`${process.env.SANDBOX_URL}/_sandbox/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ endpoint: 'profile-videos', status: 503, retry_after: 120 }),
  });
  results.throttled = await attempt(() =>
    poll({ isLoadingSample: false, zap: { id: zapId } }),
  );
  console.log(JSON.stringify(results));
};

main().catch((error) => {
  console.error(error.stack || error);
  process.exit(1);
});
