// brandpulse: the command-line entry point. Every subcommand lives in its own file
// (cli/<name>_command.cc) and registers itself the same way (cli/commands.h). Library code never
// prints; everything user-facing is written by the commands.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "generator/generator_source.h"
#include "operators/registry.h"

int main(int argc, char** argv) {
  using namespace brandpulse;
  // The synthetic firehose is a source type of this program (not of the engine's libraries).
  RegisterGeneratorOperators(OperatorRegistry::Default());

  CLI::App app{
      "brandpulse: stream processing for brand monitoring.\n"
      "Reads a firehose of posts, finds brand mentions, keeps windows in RocksDB, raises alerts."};
  app.set_version_flag("--version", std::string(BRANDPULSE_VERSION));
  app.require_subcommand(1);

  CliCommands commands;
  RegisterRunCommand(app, commands);
  RegisterValidateCommand(app, commands);
  RegisterMatchCommand(app, commands);
  RegisterGenerateCommand(app, commands);
  RegisterQueryCommand(app, commands);
  RegisterBacktestCommand(app, commands);
  RegisterDevKafkaCommand(app, commands);

  CLI11_PARSE(app, argc, argv);
  for (const CliCommand& command : commands) {
    if (*command.app) return command.run();
  }
  return 0;
}
