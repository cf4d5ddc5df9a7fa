// `--help` / `-h` for the loadtest scripts: prints the usage and exits 0 before anything is started. Imports nothing.
export function answerHelp(usage: string, argv: readonly string[] = process.argv.slice(2)): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  process.stdout.write(`${usage.trim()}\n`);
  process.exit(0);
}
