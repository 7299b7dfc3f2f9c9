// Runs the generated Zapier app through zapier-platform-core's createAppTester against a
// live connector (CONNECTOR_BASE_URL) on the sandbox upstream (SANDBOX_URL).
'use strict';

const path = require('path');

const appDir = process.argv[2];
const zapier = require(require.resolve('zapier-platform-core', { paths: [appDir] }));
const App = require(path.join(appDir, 'index.js'));
const appTester = zapier.createAppTester(App);

const authData = { api_key: process.env.API_KEY };
const handle = 'creator';
const polling = App.triggers.new_video.operation;
const hook = App.triggers.new_video_instant.operation;

const poll = (isLoadingSample) =>
  appTester(polling.perform, {
    authData,
    inputData: { handle },
    meta: { isLoadingSample, zap: { id: 'zap-4242' } },
  });

const attempt = async (fn) => {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error: error.message, name: error.name };
  }
};

const main = async () => {
  const results = {};
  results.auth = await appTester(App.authentication.test, { authData });
  results.bad_auth = await attempt(() =>
    appTester(App.authentication.test, { authData: { api_key: 'sk_invalid_key' } }),
  );
  results.sample = await poll(true);
  results.baseline = await poll(false);
  const posted = await fetch(`${process.env.SANDBOX_URL}/_sandbox/profiles/${handle}/videos`, {
    method: 'POST',
  });
  results.posted = await posted.json();
  results.new_videos = await poll(false);
  results.again = await poll(false);

  results.subscribe = await appTester(hook.performSubscribe, {
    authData,
    inputData: { handle },
    targetUrl: 'https://hooks.zapier.test/hooks/standard/1/abc/',
    meta: { zap: { id: 'zap-4242' } },
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

  results.get_video = await appTester(App.creates.get_video.operation.perform, {
    authData,
    inputData: { url: results.posted.url },
  });
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
  console.log(JSON.stringify(results));
};

main().catch((error) => {
  console.error(error.stack || error);
  process.exit(1);
});
