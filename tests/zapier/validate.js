// Validates the generated Zapier app with Zapier's own schema package.
// Prints {"app": [...], "items": {"triggers.x": [...], ...}, "without_sample": [...]}.
'use strict';

const path = require('path');

const appDir = process.argv[2];
const requireFromApp = (name) => require(require.resolve(name, { paths: [appDir] }));
const schema = requireFromApp('zapier-platform-schema');
const TriggerSchema = requireFromApp('zapier-platform-schema/lib/schemas/TriggerSchema');
const CreateSchema = requireFromApp('zapier-platform-schema/lib/schemas/CreateSchema');
const SearchSchema = requireFromApp('zapier-platform-schema/lib/schemas/SearchSchema');
const app = require(path.join(appDir, 'app.json'));

const messages = (result) => result.errors.map((e) => e.stack || e.message);
const items = {};
for (const [key, trigger] of Object.entries(app.triggers)) {
  items[`triggers.${key}`] = messages(TriggerSchema.validate(trigger));
}
for (const [key, search] of Object.entries(app.searches)) {
  items[`searches.${key}`] = messages(SearchSchema.validate(search));
}
for (const [key, create] of Object.entries(app.creates)) {
  items[`creates.${key}`] = messages(CreateSchema.validate(create));
}
// The validator must bite: a visible trigger without a sample is refused.
const broken = JSON.parse(JSON.stringify(app.triggers.new_video));
delete broken.operation.sample;

console.log(JSON.stringify({
  app: messages(schema.validateAppDefinition(app)),
  items,
  without_sample: messages(TriggerSchema.validate(broken)),
}));
