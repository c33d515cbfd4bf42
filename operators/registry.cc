#include "operators/registry.h"

#include <filesystem>
#include <mutex>

namespace brandpulse {
namespace {

template <typename Reader>
const Reader* FindIn(const std::map<std::string, Reader, std::less<>>& readers,
                     std::string_view type) {
  auto found = readers.find(type);
  return found == readers.end() ? nullptr : &found->second;
}

template <typename Reader>
std::vector<std::string> TypesIn(const std::map<std::string, Reader, std::less<>>& readers) {
  std::vector<std::string> types;
  for (const auto& [type, reader] : readers) types.push_back(type);
  return types;
}

}  // namespace

std::string ConfigContext::ResolvePath(const std::string& path) const {
  namespace fs = std::filesystem;
  if (path.empty() || path == "-") return path;
  fs::path candidate(path);
  if (candidate.is_absolute()) return candidate.lexically_normal().string();
  // Relative to the pipeline file; kept relative when that is, so messages show short paths.
  fs::path base = fs::path(pipeline_file).parent_path();
  return (base / candidate).lexically_normal().string();
}

OperatorRegistry& OperatorRegistry::Default() {
  static OperatorRegistry registry;
  static std::once_flag registered;
  std::call_once(registered, [] { RegisterBuiltinOperators(registry); });
  return registry;
}

void OperatorRegistry::AddSource(std::string type, SourceReader reader) {
  sources_[std::move(type)] = std::move(reader);
}
void OperatorRegistry::AddTransform(std::string type, TransformReader reader) {
  transforms_[std::move(type)] = std::move(reader);
}
void OperatorRegistry::AddSink(std::string type, SinkReader reader) {
  sinks_[std::move(type)] = std::move(reader);
}
void OperatorRegistry::AddAlertRule(std::string type, AlertRuleReader reader) {
  alert_rules_[std::move(type)] = std::move(reader);
}

const SourceReader* OperatorRegistry::FindSource(std::string_view type) const {
  return FindIn(sources_, type);
}
const TransformReader* OperatorRegistry::FindTransform(std::string_view type) const {
  return FindIn(transforms_, type);
}
const SinkReader* OperatorRegistry::FindSink(std::string_view type) const {
  return FindIn(sinks_, type);
}
const AlertRuleReader* OperatorRegistry::FindAlertRule(std::string_view type) const {
  return FindIn(alert_rules_, type);
}

std::vector<std::string> OperatorRegistry::SourceTypes() const { return TypesIn(sources_); }
std::vector<std::string> OperatorRegistry::TransformTypes() const { return TypesIn(transforms_); }
std::vector<std::string> OperatorRegistry::SinkTypes() const { return TypesIn(sinks_); }
std::vector<std::string> OperatorRegistry::AlertRuleTypes() const { return TypesIn(alert_rules_); }

}  // namespace brandpulse
