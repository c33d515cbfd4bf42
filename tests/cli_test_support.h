// Running the `brandpulse` binary built by this tree (BRANDPULSE_BINARY) as a user would, for
// the CLI tests.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace brandpulse_cli_test {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `brandpulse <arguments>` from `directory`; `environment` ("NAME='value' ...") prefixes
// the command.
inline CommandResult RunBrandpulse(const std::string& arguments,
                                   const std::filesystem::path& directory,
                                   const std::string& environment = "") {
  std::string command = fmt::format("cd '{}' && {} '{}' {} 2>&1", directory.string(), environment,
                                    BRANDPULSE_BINARY, arguments);
  CommandResult result;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t count;
  while ((count = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, count);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace brandpulse_cli_test
