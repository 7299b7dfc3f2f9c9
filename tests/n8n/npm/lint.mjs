// Lints a generated n8n node package with n8n's rules (eslint.config.mjs) the way n8n's
// scanner does, in two legs, and prints one JSON report:
//   shipped: the package as published: its .js files and package.json.
//   source:  what the package's TypeScript sources would be (nodes/ and credentials/, built
//            to dist/). The rules find node and
//            credential classes only by `implements INodeType` / `implements
//            ICredentialType` (community-nodes dist/utils/ast-utils.js isNodeTypeClass,
//            isCredentialTypeClass) and by `.node.ts` / `.credentials.ts` file names
//            (n8n-nodes-base dist/lib/ast/utils/filename.js); plain JavaScript has neither,
//            and the scanner says its rules "no-op" on compiled output. So each class gets
//            that one clause and its file a .ts name; nothing else changes.
// Usage: node lint.mjs <package dir>
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const here = path.dirname(fileURLToPath(import.meta.url));
const packageDir = path.resolve(process.argv[2]);

const files = (dir) =>
  fs.readdirSync(dir, { recursive: true }).filter((f) => fs.statSync(path.join(dir, f)).isFile());

const typed = [];
const sourceView = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-lint-'));
  for (const file of files(packageDir)) {
    const text = fs.readFileSync(path.join(packageDir, file));
    let target = file.replace(/^dist\/(.*\.svg)$/, '$1');
    let content = text;
    const kind = file.endsWith('.node.js') ? 'INodeType'
      : file.endsWith('.credentials.js') ? 'ICredentialType' : null;
    if (kind) {
      // A TypeScript package keeps its sources in nodes/ and credentials/ and ships them
      // compiled to dist/.
      target = file.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      const source = text.toString('utf8');
      const replaced = source.replace(/^class (\w+) \{$/m, (_, name) => {
        typed.push({ file: target, class: name, implements: kind });
        return `class ${name} implements ${kind} {`;
      });
      if (replaced === source) throw new Error(`no top-level class in ${file}`);
      content = replaced;
    }
    fs.mkdirSync(path.dirname(path.join(dir, target)), { recursive: true });
    fs.writeFileSync(path.join(dir, target), content);
  }
  return dir;
};

const lint = async (cwd, patterns) => {
  const eslint = new ESLint({
    cwd,
    allowInlineConfig: false,
    overrideConfigFile: path.join(here, 'eslint.config.mjs'),
    errorOnUnmatchedPattern: false,
  });
  const results = await eslint.lintFiles(patterns);
  return {
    files: results.map((r) => path.relative(cwd, r.filePath)).sort(),
    errorCount: results.reduce((n, r) => n + r.errorCount, 0),
    warningCount: results.reduce((n, r) => n + r.warningCount, 0),
    messages: results.flatMap((r) =>
      r.messages.map((m) => ({
        file: path.relative(cwd, r.filePath),
        line: m.line,
        rule: m.ruleId,
        severity: m.severity === 2 ? 'error' : 'warning',
        message: m.message,
      })),
    ),
  };
};

const sourceDir = sourceView();
try {
  const report = {
    shipped: await lint(packageDir, ['**/*.js', 'package.json']),
    source: await lint(sourceDir, ['package.json', '{nodes,credentials}/**/*.{js,ts,json}']),
    typed,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  fs.rmSync(sourceDir, { recursive: true, force: true });
}
