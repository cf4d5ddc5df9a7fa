// The iot-gateway subcommands: name -> usage, one-line summary and a lazy runner. Imports each tool only when it runs.
//
// Contract: a subcommand module exports `main(argv: string[]): Promise<number>` (argv after the subcommand name;
// the result is the exit code) and answers `--help` with its usage and 0. To add one (e.g. `passwd`): one entry here.
export interface Subcommand {
  usage: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

export const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  log: {
    usage: 'log inspect|dump --data-dir DIR ...',
    summary: "look into a stopped gateway's log and consumer offsets (iot-gateway log --help)",
    run: async (argv) => (await import('./log-cli.ts')).main(argv),
  },
  passwd: {
    usage: 'passwd [-c] [-b] [-D] FILE USER [PASSWORD]',
    summary: 'add, change (-D: delete) a user in a Mosquitto-format password file ($7$ PBKDF2-SHA512)',
    run: async (argv) => (await import('./passwd.ts')).main(argv),
  },
};
