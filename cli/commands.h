// Every subcommand lives in its own file (cli/<name>_command.cc) and registers here, so adding
// one touches main.cc in one line and never another command's file.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "engine/diagnostics.h"
#include "operators/query.h"

namespace brandpulse {

// A registered subcommand: `run` is called when the user chose `app`, and returns the exit code.
struct CliCommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};
using CliCommands = std::vector<CliCommand>;

// Shared formatting for commands.
std::string Grouped(uint64_t number);
std::string PadRight(std::string_view text, size_t width);
void PrintDiagnostics(const Diagnostics& diagnostics);
// The query as an indented tree, one node a line: "[true ] AND   (line 4:7)". `values` holds
// each node's value (CompiledWatchlist::ExplainQuery); `indent` is the starting depth.
std::string QueryTreeText(const Query& query, const std::vector<bool>& values, int indent);

// Registrations, one per command file, in the order `--help` lists them.
void RegisterRunCommand(CLI::App& app, CliCommands& commands);
void RegisterValidateCommand(CLI::App& app, CliCommands& commands);
void RegisterMatchCommand(CLI::App& app, CliCommands& commands);
void RegisterGenerateCommand(CLI::App& app, CliCommands& commands);
void RegisterQueryCommand(CLI::App& app, CliCommands& commands);  // query and serve
void RegisterBacktestCommand(CLI::App& app, CliCommands& commands);
void RegisterEvalEnrichmentCommand(CLI::App& app, CliCommands& commands);  // enrichment
void RegisterTrainEnrichmentCommand(CLI::App& app, CliCommands& commands);  // enrichment's model
void RegisterDevKafkaCommand(CLI::App& app, CliCommands& commands);  // issue 11
void RegisterScoreCommand(CLI::App& app, CliCommands& commands);  // issue 14: precision/recall on labelled posts
// issue 14: per-post brandpulse.mention/1 JSON lines of a recorded firehose on stdout (the
// backtest's matching and exclusion accounting; used by `backtest --jsonl -` and
// `match --input FILE --jsonl`). Returns the exit code.
int WriteMentionLines(const std::string& watchlist, const std::string& input,
                      const std::string& format);

}  // namespace brandpulse
