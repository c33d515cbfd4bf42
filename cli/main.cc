// brandpulse: the command-line entry point. Every subcommand lives in its own file
// (cli/<name>_command.cc) and registers itself the same way (cli/commands.h). Library code never
// prints; everything user-facing is written by the commands.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "engine/log.h"
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

  // Operations (docs/operations.md): how every command logs. Accepted before or after the
  // subcommand's name.
  std::string log_level = "info";
  std::string log_format = "text";
  app.add_option("--log-level", log_level, "Log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"}));
  app.add_option("--log-format", log_format, "Log lines as text, or JSON lines for log shippers")
      ->check(CLI::IsMember({"text", "json"}));
  app.fallthrough();

  CliCommands commands;
  RegisterRunCommand(app, commands);
  RegisterValidateCommand(app, commands);
  RegisterMatchCommand(app, commands);
  RegisterGenerateCommand(app, commands);
  RegisterQueryCommand(app, commands);
  RegisterBacktestCommand(app, commands);
  RegisterEvalEnrichmentCommand(app, commands);
  RegisterTrainEnrichmentCommand(app, commands);  // issue 13 (enrichment's linear model)
  RegisterDevKafkaCommand(app, commands);
  RegisterScoreCommand(app, commands);  // issue 14 (precision tools)

  CLI11_PARSE(app, argc, argv);
  Result<LogLevel> level = ParseLogLevel(log_level);
  Result<LogFormat> format = ParseLogFormat(log_format);
  ConfigureLogging(level.ok() ? *level : LogLevel::kInfo, format.ok() ? *format : LogFormat::kText);
  for (const CliCommand& command : commands) {
    if (*command.app) return command.run();
  }
  return 0;
}
