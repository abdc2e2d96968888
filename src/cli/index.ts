/** The `personae` command line. Errors of the user's making print one clear line, no stack. */
import { Command, CommanderError } from 'commander';
import { ConfigError, DataError, ModelFitError, NotFoundError } from '../errors.js';
import { VERSION } from '../version.js';
import { batchCommand } from './commands/batch.js';
import { evaluateCommand } from './commands/evaluate.js';
import { onboardCommand } from './commands/onboard.js';
import { recommendCommand } from './commands/recommend.js';
import { serveCommand } from './commands/serve.js';
import { simulateCommand } from './commands/simulate.js';
import { splitCommand } from './commands/split.js';
import { startCommand } from './commands/start.js';
import { studyCommand } from './commands/study.js';
import { trainCommand } from './commands/train.js';
import { worldCommand } from './commands/world.js';

export function buildProgram(): Command {
  const program = new Command('personae')
    .description('a recommender toolkit in which every user is several personas, not one vector')
    .version(VERSION)
    .exitOverride();
  program.addCommand(evaluateCommand());
  program.addCommand(splitCommand());
  program.addCommand(recommendCommand());
  program.addCommand(trainCommand());
  program.addCommand(batchCommand());
  program.addCommand(worldCommand());
  program.addCommand(startCommand());
  program.addCommand(onboardCommand());
  program.addCommand(serveCommand());
  program.addCommand(studyCommand());
  program.addCommand(simulateCommand());
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof DataError || err instanceof ConfigError || err instanceof ModelFitError || err instanceof NotFoundError) {
      process.stderr.write(`personae: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}
