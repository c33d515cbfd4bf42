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

// A source or sink spec: its type and the function that builds the operator.
template <typename Spec, typename Product, typename Context>
class FunctionSpec final : public Spec {
 public:
  using Maker = std::function<Result<std::unique_ptr<Product>>(const Context&)>;
  FunctionSpec(std::string type, Maker make) : type_(std::move(type)), make_(std::move(make)) {}
  std::string_view type() const override { return type_; }
  Result<std::unique_ptr<Product>> Make(const Context& context) const override {
    return make_(context);
  }

 private:
  std::string type_;
  Maker make_;
};

class FunctionTransformSpec final : public TransformSpec {
 public:
  FunctionTransformSpec(std::string type, TransformMaker make, TransformTraits traits)
      : type_(std::move(type)), make_(std::move(make)), traits_(std::move(traits)) {}
  std::string_view type() const override { return type_; }
  bool uses_watchlist() const override { return traits_.uses_watchlist; }
  std::vector<std::string_view> needs_before() const override { return traits_.needs_before; }
  Result<std::unique_ptr<Transform>> Make(const TransformBuildContext& context) const override {
    return make_(context);
  }

 private:
  std::string type_;
  TransformMaker make_;
  TransformTraits traits_;
};

class FunctionAlertRuleSpec final : public AlertRuleSpec {
 public:
  FunctionAlertRuleSpec(std::string name, std::string type, AlertRuleMaker make)
      : name_(std::move(name)), type_(std::move(type)), make_(std::move(make)) {}
  const std::string& name() const override { return name_; }
  std::string_view type() const override { return type_; }
  Result<std::unique_ptr<AlertRule>> Make(const RuleBuildContext& context) const override {
    return make_(context);
  }

 private:
  std::string name_;
  std::string type_;
  AlertRuleMaker make_;
};

}  // namespace

std::unique_ptr<SourceSpec> SourceSpecOf(std::string type, SourceMaker make) {
  return std::make_unique<FunctionSpec<SourceSpec, Source, SourceBuildContext>>(std::move(type),
                                                                              std::move(make));
}

std::unique_ptr<TransformSpec> TransformSpecOf(std::string type, TransformMaker make,
                                               TransformTraits traits) {
  return std::make_unique<FunctionTransformSpec>(std::move(type), std::move(make),
                                                 std::move(traits));
}

std::unique_ptr<SinkSpec> SinkSpecOf(std::string type, SinkMaker make) {
  return std::make_unique<FunctionSpec<SinkSpec, Sink, SinkBuildContext>>(std::move(type),
                                                                        std::move(make));
}

std::unique_ptr<AlertRuleSpec> AlertRuleSpecOf(std::string name, std::string type,
                                               AlertRuleMaker make) {
  return std::make_unique<FunctionAlertRuleSpec>(std::move(name), std::move(type),
                                                 std::move(make));
}

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
