// Entry point of the single-file herald (`npm run package`): the same CLI as bin/herald, bundled with
// everything it needs into one CommonJS script that Node's single-executable-application support runs.
import { main } from "./cli.js";

main(process.argv).catch((err: unknown) => {
  console.error(`herald: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
