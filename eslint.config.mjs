// ESLint for the session viewer's inline script (src/ccproxy/viewer/index.html), which
// scripts/lint_viewer_js.py extracts and lints; .ci/run and tests/viewer/test_script.py run it.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: { ...globals.browser } },
    rules: {
      // The script has one unused `catch (err)` binding today; drop this once it is `catch {`.
      "no-unused-vars": ["error", { caughtErrors: "none" }],
    },
  },
];
