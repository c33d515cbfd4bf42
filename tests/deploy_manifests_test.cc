// The deployment recipes in deploy/ against the binary they deploy:
//  - every kustomize overlay renders with `kubectl kustomize` (Debian 12's kubectl 1.20 embeds
//    kustomize v2.0.3; later ones read the same files) into well-formed objects whose references
//    resolve (Service ports → container ports, selectors → pod labels, mounts → volumes,
//    ConfigMaps and Secrets → what the pod reads);
//  - the container's `args` use flags `brandpulse <command> --help` lists, its `--api` port is
//    the port the Service targets, and the pipeline in the ConfigMap validates with this binary
//    and keeps its state and outputs on the pod's writable volumes;
//  - the laptop overlay, run as its pod would run (init containers, then the container's args,
//    with the container's paths mapped into a temporary folder): its probes answer on paths the
//    binary serves, SIGTERM ends it with a final commit and exit 0, and the next start resumes;
//  - the Prometheus scrape config passes `promtool check config` and the Grafana dashboard's
//    queries name only metrics the engine exports (the live /metrics scrape of that run; before
//    the binary serves /metrics, the list in docs/operations.md).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include "tests/test_support.h"

namespace {

namespace fs = std::filesystem;
using brandpulse_test::MakeTempDirectory;
using brandpulse_test::ReadFile;

const fs::path kSource = BRANDPULSE_SOURCE_DIR;
const fs::path kKubernetes = kSource / "deploy" / "kubernetes";
const std::vector<std::string> kOverlays = {"laptop", "cluster"};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout only
};

// Runs a shell command; stderr goes to the test's own stderr (kubectl's deprecation warnings).
CommandResult Shell(const std::string& command) {
  CommandResult result;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t count;
  while ((count = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, count);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::optional<std::string> FindProgram(const std::string& name) {
  CommandResult found = Shell(fmt::format("command -v {} 2>/dev/null", name));
  if (found.exit_code != 0 || found.out.empty()) return std::nullopt;
  return found.out.substr(0, found.out.find('\n'));
}

// $KUBECTL, else kubectl on the PATH (scripts/install-deps.sh installs Debian's).
std::optional<std::string> Kubectl() {
  if (const char* chosen = std::getenv("KUBECTL"); chosen != nullptr && *chosen != '\0') {
    return std::string(chosen);
  }
  return FindProgram("kubectl");
}

struct Rendered {
  std::string text;
  std::vector<YAML::Node> objects;

  std::vector<YAML::Node> OfKind(const std::string& kind) const {
    std::vector<YAML::Node> found;
    for (const YAML::Node& object : objects) {
      if (object["kind"].as<std::string>("") == kind) found.push_back(object);
    }
    return found;
  }
  // Generated ConfigMaps carry a hash suffix: `name` matches "name" and "name-<hash>".
  std::optional<YAML::Node> Find(const std::string& kind, const std::string& name) const {
    for (const YAML::Node& object : OfKind(kind)) {
      if (object["metadata"]["name"].as<std::string>("") == name) return object;
    }
    return std::nullopt;
  }
};

Rendered Render(const std::string& overlay) {
  Rendered rendered;
  std::optional<std::string> kubectl = Kubectl();
  if (!kubectl) {
    ADD_FAILURE() << "no kubectl: scripts/install-deps.sh installs Debian's kubernetes-client "
                     "(or set KUBECTL to one)";
    return rendered;
  }
  fs::path directory = kKubernetes / "overlays" / overlay;
  CommandResult result = Shell(fmt::format("{} kustomize {}", Quoted(*kubectl), Quoted(directory)));
  EXPECT_EQ(result.exit_code, 0) << "kubectl kustomize " << directory << " failed";
  rendered.text = result.out;
  try {
    for (const YAML::Node& object : YAML::LoadAll(result.out)) {
      if (object.IsMap()) rendered.objects.push_back(object);
    }
  } catch (const YAML::Exception& error) {
    ADD_FAILURE() << overlay << ": the rendered manifests are not YAML: " << error.what();
  }
  return rendered;
}

YAML::Node OnlyStatefulSet(const Rendered& rendered) {
  std::vector<YAML::Node> sets = rendered.OfKind("StatefulSet");
  EXPECT_EQ(sets.size(), 1u);
  return sets.empty() ? YAML::Node() : sets.front();
}

YAML::Node MainContainer(const YAML::Node& statefulset) {
  for (const YAML::Node& container : statefulset["spec"]["template"]["spec"]["containers"]) {
    if (container["name"].as<std::string>("") == "brandpulse") return container;
  }
  ADD_FAILURE() << "no container named brandpulse";
  return YAML::Node();
}

// node[keys...], or an undefined node when any step is missing (yaml-cpp throws on a step past
// a missing key). Nodes are references: reset() rebinds one, `=` would overwrite the tree.
YAML::Node At(const YAML::Node& node, std::initializer_list<const char*> keys) {
  YAML::Node current;
  current.reset(node);
  for (const char* key : keys) {
    if (!current || !current.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& parent = current;
    YAML::Node next = parent[key];
    if (!next) return YAML::Node(YAML::NodeType::Undefined);
    current.reset(next);
  }
  return current;
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> values;
  if (list && list.IsSequence()) {
    for (const YAML::Node& value : list) values.push_back(value.as<std::string>());
  }
  return values;
}

// The value after `flag` in `args`, or empty.
std::string FlagValue(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) return args[i + 1];
  }
  return "";
}

std::map<std::string, int> ContainerPorts(const YAML::Node& container) {
  std::map<std::string, int> ports;
  for (const YAML::Node& port : container["ports"]) {
    ports[port["name"].as<std::string>("")] = port["containerPort"].as<int>();
  }
  return ports;
}

bool LabelsInclude(const YAML::Node& labels, const YAML::Node& selector) {
  if (!selector || !selector.IsMap() || selector.size() == 0) return false;
  for (const auto& entry : selector) {
    std::string key = entry.first.as<std::string>();
    if (!labels[key] || labels[key].as<std::string>() != entry.second.as<std::string>()) {
      return false;
    }
  }
  return true;
}

// The mount path of the volume `name` in `container`, or empty.
std::string MountPathOf(const YAML::Node& container, const std::string& volume) {
  for (const YAML::Node& mount : container["volumeMounts"]) {
    if (mount["name"].as<std::string>("") == volume) return mount["mountPath"].as<std::string>();
  }
  return "";
}

bool IsUnder(const std::string& path, const std::string& directory) {
  return !directory.empty() &&
         (path == directory || path.rfind(directory + "/", 0) == 0);
}

// The volumes a container may write to: the StatefulSet's claims and emptyDirs it mounts
// read-write (the root file system is read-only).
std::vector<std::string> WritableMountPaths(const YAML::Node& statefulset,
                                            const YAML::Node& container) {
  std::set<std::string> writable;
  for (const YAML::Node& claim : statefulset["spec"]["volumeClaimTemplates"]) {
    writable.insert(claim["metadata"]["name"].as<std::string>());
  }
  for (const YAML::Node& volume : statefulset["spec"]["template"]["spec"]["volumes"]) {
    if (volume["emptyDir"]) writable.insert(volume["name"].as<std::string>());
  }
  std::vector<std::string> paths;
  for (const YAML::Node& mount : container["volumeMounts"]) {
    if (writable.count(mount["name"].as<std::string>()) && !mount["readOnly"].as<bool>(false)) {
      paths.push_back(mount["mountPath"].as<std::string>());
    }
  }
  return paths;
}

// The ConfigMap behind a configMap volume of the pod (names in the render carry kustomize's
// hash suffix already).
std::optional<YAML::Node> ConfigMapOfVolume(const Rendered& rendered, const YAML::Node& pod_spec,
                                            const std::string& volume_name) {
  for (const YAML::Node& volume : pod_spec["volumes"]) {
    if (volume["name"].as<std::string>("") != volume_name || !volume["configMap"]) continue;
    return rendered.Find("ConfigMap", volume["configMap"]["name"].as<std::string>(""));
  }
  return std::nullopt;
}

// --- The pod's file system, mapped into a temporary folder -----------------------------------

std::string Rewrite(std::string text, const std::vector<std::string>& mount_paths,
                    const fs::path& root);

// Lays out what the pod sees under `root`: the ConfigMaps' files at their mount paths (with the
// paths in them moved under `root` too) and empty folders for its volumes. Returns the mount
// paths (longest first) for Rewrite().
std::vector<std::string> LayOutPod(const Rendered& rendered, const YAML::Node& statefulset,
                                   const fs::path& root) {
  const YAML::Node pod_spec = statefulset["spec"]["template"]["spec"];
  std::set<std::string> mount_paths;
  for (const char* group : {"initContainers", "containers"}) {
    for (const YAML::Node& container : pod_spec[group]) {
      for (const YAML::Node& mount : container["volumeMounts"]) {
        mount_paths.insert(mount["mountPath"].as<std::string>());
      }
    }
  }
  std::vector<std::string> paths(mount_paths.begin(), mount_paths.end());
  std::sort(paths.begin(), paths.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const char* group : {"initContainers", "containers"}) {
    for (const YAML::Node& container : pod_spec[group]) {
      for (const YAML::Node& mount : container["volumeMounts"]) {
        std::string path = mount["mountPath"].as<std::string>();
        fs::create_directories(root / path.substr(1));
        std::optional<YAML::Node> config_map =
            ConfigMapOfVolume(rendered, pod_spec, mount["name"].as<std::string>());
        if (!config_map) continue;
        for (const auto& entry : (*config_map)["data"]) {
          brandpulse_test::WriteFile(root / path.substr(1) / entry.first.as<std::string>(),
                                     Rewrite(entry.second.as<std::string>(), paths, root));
        }
      }
    }
  }
  return paths;
}

// The file `path` as the container sees it, from the ConfigMap mounted over it.
std::string MountedFile(const Rendered& rendered, const YAML::Node& statefulset,
                        const YAML::Node& container, const std::string& path) {
  const YAML::Node pod_spec = statefulset["spec"]["template"]["spec"];
  for (const YAML::Node& mount : container["volumeMounts"]) {
    std::string directory = mount["mountPath"].as<std::string>();
    if (!IsUnder(path, directory) || path == directory) continue;
    std::optional<YAML::Node> config_map =
        ConfigMapOfVolume(rendered, pod_spec, mount["name"].as<std::string>());
    if (!config_map) continue;
    YAML::Node file = At(*config_map, {"data", path.substr(directory.size() + 1).c_str()});
    if (file) return file.as<std::string>();
  }
  return "";
}

// `text` with the pod's mount paths moved under `root` and the image's binary replaced by the
// one under test.
std::string Rewrite(std::string text, const std::vector<std::string>& mount_paths,
                    const fs::path& root) {
  const std::string binary = "/usr/local/bin/brandpulse";
  for (size_t at = text.find(binary); at != std::string::npos; at = text.find(binary, at)) {
    text.replace(at, binary.size(), BRANDPULSE_BINARY);
    at += std::string(BRANDPULSE_BINARY).size();
  }
  std::string out;
  for (size_t i = 0; i < text.size();) {
    bool replaced = false;
    for (const std::string& path : mount_paths) {
      bool boundary_before = i == 0 || std::string(" \t\n:='\"{[,").find(text[i - 1]) != std::string::npos;
      if (boundary_before && text.compare(i, path.size(), path) == 0) {
        out += (root / path.substr(1)).string();
        i += path.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += text[i++];
  }
  return out;
}

// --- A running pipeline ----------------------------------------------------------------------

struct Process {
  pid_t pid = -1;
  fs::path stderr_path;
};

Process Spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              const fs::path& log_directory, const std::string& name) {
  Process process;
  process.stderr_path = log_directory / (name + ".err");
  fs::path stdout_path = log_directory / (name + ".out");
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.push_back(*entry);
  for (const auto& [key, value] : env) environment.push_back(key + "=" + value);
  std::vector<char*> argv, envp;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  for (const std::string& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, process.stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int error = posix_spawn(&process.pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    ADD_FAILURE() << "cannot start " << args[0] << ": " << std::strerror(error);
    process.pid = -1;
  }
  return process;
}

// Waits up to `seconds` for the process to exit; its exit code, or nullopt if it still runs.
std::optional<int> WaitExit(pid_t pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

// The laptop overlay's pod, run here: init containers, then the main container's args.
class LaptopPod : public ::testing::Test {
 protected:
  void SetUp() override {
    rendered_ = Render("laptop");
    statefulset_ = OnlyStatefulSet(rendered_);
    ASSERT_TRUE(statefulset_.IsMap());
    root_ = MakeTempDirectory("deploy-laptop-pod");
    mounts_ = LayOutPod(rendered_, statefulset_, root_);
    const YAML::Node pod_spec = statefulset_["spec"]["template"]["spec"];
    for (const YAML::Node& init : pod_spec["initContainers"]) {
      std::vector<std::string> command = Strings(init["command"]);
      std::vector<std::string> args = Strings(init["args"]);
      command.insert(command.end(), args.begin(), args.end());
      ASSERT_EQ(command.size(), 3u) << "init containers run `/bin/sh -c SCRIPT`";
      ASSERT_EQ(command[0], "/bin/sh");
      // A smaller demo input than the pod makes: the same command, a tenth of the posts.
      std::string script = std::regex_replace(Rewrite(command[2], mounts_, root_),
                                              std::regex("--count [0-9]+"), "--count 20000");
      CommandResult result = Shell(fmt::format("/bin/sh -c {} 2>&1", Quoted(script)));
      ASSERT_EQ(result.exit_code, 0) << "init container " << init["name"] << ": " << result.out;
    }
    container_ = MainContainer(statefulset_);
    for (const YAML::Node& variable : container_["env"]) {
      if (variable["value"]) {
        env_[variable["name"].as<std::string>()] = variable["value"].as<std::string>();
      }
    }
    env_["POD_NAME"] = "brandpulse-0";
    env_["XDG_CACHE_HOME"] = (root_ / "var/cache/brandpulse").string();
  }
  void TearDown() override {
    if (process_.pid > 0) {
      ::kill(process_.pid, SIGKILL);
      WaitExit(process_.pid, 5);
    }
    fs::remove_all(root_);
  }

  // Starts the container's args with its --api on a free local port; returns "host:port".
  std::string Start(const std::string& name) {
    std::vector<std::string> args = Strings(container_["args"]);
    std::vector<std::string> argv = {BRANDPULSE_BINARY};
    for (size_t i = 0; i < args.size(); ++i) {
      if (i > 0 && args[i - 1] == "--api") {
        argv.push_back("127.0.0.1:0");
      } else {
        argv.push_back(Rewrite(args[i], mounts_, root_));
      }
    }
    process_ = Spawn(argv, env_, root_, name);
    // "query API on http://ADDRESS/api/v1/", or the structured log's address=http://ADDRESS/api/v1/
    std::regex announced(R"(http://([0-9.]+:[0-9]+)/api/v1/)");
    for (int i = 0; i < 500 && process_.pid > 0; ++i) {
      std::smatch match;
      std::string log = ReadFile(process_.stderr_path);
      if (std::regex_search(log, match, announced)) return match[1].str();
      if (WaitExit(process_.pid, 0.02)) {
        ADD_FAILURE() << "brandpulse exited: " << log;
        process_.pid = -1;
        return "";
      }
    }
    ADD_FAILURE() << "the API never came up: " << ReadFile(process_.stderr_path);
    return "";
  }

  // The run reported itself ready (its source at the committed position).
  bool Ready() const {
    std::string log = ReadFile(process_.stderr_path);
    return log.find("ready after") != std::string::npos ||
           log.find("ready_seconds") != std::string::npos;
  }

  Rendered rendered_;
  YAML::Node statefulset_;
  YAML::Node container_;
  fs::path root_;
  std::vector<std::string> mounts_;
  std::map<std::string, std::string> env_;
  Process process_;
};

httplib::Result Get(const std::string& address, const std::string& path) {
  httplib::Client client("http://" + address);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  return client.Get(path);
}

// --- PromQL --------------------------------------------------------------------------------

// The metric names a PromQL expression reads: identifiers that are not functions, keywords,
// label names (inside {...} or a by/without/on/ignoring list), durations, numbers or strings.
std::set<std::string> MetricNamesIn(const std::string& expression) {
  static const std::set<std::string> kKeywords = {
      "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
      "unless", "offset", "inf", "nan", "atan2",
      // aggregation operators, which may come before their parenthesis: `sum by (x) (...)`
      "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
      "bottomk", "topk", "quantile"};
  static const std::set<std::string> kLabelLists = {"by", "without", "on", "ignoring",
                                                    "group_left", "group_right"};
  std::set<std::string> names;
  size_t i = 0;
  std::string previous;
  auto skip_until = [&](char close) {
    while (i < expression.size() && expression[i] != close) {
      if (expression[i] == '"' || expression[i] == '\'') {
        char quote = expression[i++];
        while (i < expression.size() && expression[i] != quote) i += expression[i] == '\\' ? 2 : 1;
      }
      ++i;
    }
    ++i;
  };
  while (i < expression.size()) {
    char c = expression[i];
    if (c == '{') {
      ++i;
      skip_until('}');
    } else if (c == '[') {
      ++i;
      skip_until(']');
    } else if (c == '"' || c == '\'') {
      ++i;
      skip_until(c);
    } else if (c == '$') {  // a Grafana variable: $__rate_interval, ${instance}
      ++i;
      if (i < expression.size() && expression[i] == '{') skip_until('}');
      while (i < expression.size() && (std::isalnum(static_cast<unsigned char>(expression[i])) || expression[i] == '_')) ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      while (i < expression.size() && (std::isalnum(static_cast<unsigned char>(expression[i])) || expression[i] == '.')) ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':') {
      size_t begin = i;
      while (i < expression.size() && (std::isalnum(static_cast<unsigned char>(expression[i])) || expression[i] == '_' || expression[i] == ':')) ++i;
      std::string word = expression.substr(begin, i - begin);
      size_t next = expression.find_first_not_of(" \t\n", i);
      bool call = next != std::string::npos && expression[next] == '(';
      if (kLabelLists.count(word) && call) {
        i = next + 1;
        skip_until(')');
      } else if (!call && !kKeywords.count(word)) {
        names.insert(word);
      }
      previous = word;
    } else {
      ++i;
    }
  }
  return names;
}

// Every PromQL expression of the dashboard: panel targets' `expr` (rows nest panels) and the
// metric of each query variable's `label_values(metric, label)`.
void CollectExpressions(simdjson::dom::element element, std::vector<std::string>& expressions) {
  if (element.is_array()) {
    for (simdjson::dom::element item : element.get_array()) CollectExpressions(item, expressions);
    return;
  }
  if (!element.is_object()) return;
  std::string_view type;
  if (element["type"].get(type) == simdjson::SUCCESS && type == "query") {
    std::string_view query;
    if (element["query"].get(query) != simdjson::SUCCESS &&
        element["query"]["query"].get(query) != simdjson::SUCCESS) {
      query = {};
    }
    std::string text(query);
    std::smatch match;
    if (std::regex_search(text, match, std::regex(R"(label_values\(\s*([^,)]+))"))) {
      expressions.push_back(match[1].str());
    } else if (!text.empty()) {
      expressions.push_back(text);
    }
  }
  for (auto [key, value] : element.get_object()) {
    if (key == "expr" && value.is_string()) {
      expressions.emplace_back(value.get_string().value());
    } else if (key != "query") {
      CollectExpressions(value, expressions);
    }
  }
}

// The names a Prometheus text exposition declares (# TYPE) or has samples of.
std::set<std::string> ExposedNames(const std::string& exposition) {
  std::set<std::string> names;
  std::regex type_line(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) )");
  std::regex sample_line(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ])");
  for (const std::string& line : brandpulse_test::Lines(exposition)) {
    std::smatch match;
    if (std::regex_search(line, match, type_line) || std::regex_search(line, match, sample_line)) {
      names.insert(match[1].str());
    }
  }
  return names;
}

// The metric names docs/operations.md lists (any `brandpulse_...` in it), with the series a
// histogram adds.
std::set<std::string> DocumentedNames(const std::string& operations_md) {
  std::set<std::string> names;
  std::regex name(R"(\bbrandpulse_[a-z0-9_]+)");
  for (auto it = std::sregex_iterator(operations_md.begin(), operations_md.end(), name);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
    for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(it->str() + suffix);
  }
  return names;
}

std::vector<std::string> DashboardExpressions() {
  simdjson::dom::parser parser;
  simdjson::dom::element dashboard;
  fs::path path = kSource / "deploy" / "grafana" / "brandpulse.json";
  auto error = parser.load(path.string()).get(dashboard);
  EXPECT_EQ(error, simdjson::SUCCESS) << path << ": " << simdjson::error_message(error);
  std::vector<std::string> expressions;
  if (error == simdjson::SUCCESS) CollectExpressions(dashboard, expressions);
  return expressions;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST(DeployManifests, EveryOverlayRendersTheObjectsItNeeds) {
  for (const std::string& overlay : kOverlays) {
    SCOPED_TRACE(overlay);
    Rendered rendered = Render(overlay);
    ASSERT_FALSE(rendered.objects.empty());
    const std::map<std::string, std::string> api_versions = {
        {"StatefulSet", "apps/v1"}, {"Service", "v1"}, {"ConfigMap", "v1"},
        {"Secret", "v1"}, {"PodDisruptionBudget", "policy/v1"}};
    std::set<std::pair<std::string, std::string>> seen;
    for (const YAML::Node& object : rendered.objects) {
      std::string kind = object["kind"].as<std::string>("");
      std::string name = object["metadata"]["name"].as<std::string>("");
      ASSERT_TRUE(api_versions.count(kind)) << "unexpected kind '" << kind << "'";
      EXPECT_EQ(object["apiVersion"].as<std::string>(""), api_versions.at(kind)) << kind;
      EXPECT_FALSE(name.empty()) << kind << " without a name";
      EXPECT_TRUE(seen.insert({kind, name}).second) << kind << " " << name << " twice";
      EXPECT_EQ(At(object, {"metadata", "labels", "app.kubernetes.io/name"}).as<std::string>(""),
                "brandpulse")
          << kind << " " << name << " lacks the common label";
    }
    EXPECT_EQ(rendered.OfKind("StatefulSet").size(), 1u);
    EXPECT_EQ(rendered.OfKind("Service").size(), 2u);
    EXPECT_TRUE(rendered.Find("ConfigMap", "brandpulse-watchlists"))
        << "the watchlists ConfigMap keeps its name (reloaded in place, no hash suffix)";
  }
}

TEST(DeployManifests, ReferencesResolveWithinEachOverlay) {
  for (const std::string& overlay : kOverlays) {
    SCOPED_TRACE(overlay);
    Rendered rendered = Render(overlay);
    YAML::Node statefulset = OnlyStatefulSet(rendered);
    ASSERT_TRUE(statefulset.IsMap());
    const YAML::Node spec = statefulset["spec"];
    const YAML::Node pod_spec = spec["template"]["spec"];
    const YAML::Node pod_labels = spec["template"]["metadata"]["labels"];
    EXPECT_TRUE(LabelsInclude(pod_labels, spec["selector"]["matchLabels"]))
        << "the StatefulSet's selector does not select its own pods";

    // Its governing Service exists and is headless.
    std::optional<YAML::Node> governing =
        rendered.Find("Service", spec["serviceName"].as<std::string>(""));
    ASSERT_TRUE(governing) << "serviceName names no Service";
    EXPECT_EQ((*governing)["spec"]["clusterIP"].as<std::string>(""), "None");

    YAML::Node container = MainContainer(statefulset);
    std::map<std::string, int> ports = ContainerPorts(container);
    EXPECT_TRUE(ports.count("http"));
    for (const YAML::Node& service : rendered.OfKind("Service")) {
      SCOPED_TRACE(service["metadata"]["name"].as<std::string>());
      EXPECT_TRUE(LabelsInclude(pod_labels, service["spec"]["selector"]))
          << "the Service selects no pod of the StatefulSet";
      for (const YAML::Node& port : service["spec"]["ports"]) {
        std::string target = port["targetPort"].as<std::string>("");
        EXPECT_TRUE(ports.count(target))
            << "targetPort '" << target << "' is not a port of the brandpulse container";
      }
    }
    for (const char* probe : {"readinessProbe", "livenessProbe", "startupProbe"}) {
      ASSERT_TRUE(container[probe]) << "no " << probe;
      std::string port = container[probe]["httpGet"]["port"].as<std::string>("");
      EXPECT_TRUE(ports.count(port)) << probe << " port '" << port << "' is not a container port";
    }

    // Every mount names a volume or a claim; every configMap volume a rendered ConfigMap.
    std::set<std::string> volumes;
    for (const YAML::Node& volume : pod_spec["volumes"]) {
      volumes.insert(volume["name"].as<std::string>());
      if (volume["configMap"]) {
        EXPECT_TRUE(ConfigMapOfVolume(rendered, pod_spec, volume["name"].as<std::string>()))
            << "volume " << volume["name"] << " names no rendered ConfigMap";
      }
    }
    for (const YAML::Node& claim : spec["volumeClaimTemplates"]) {
      volumes.insert(claim["metadata"]["name"].as<std::string>());
    }
    for (const char* group : {"initContainers", "containers"}) {
      for (const YAML::Node& each : pod_spec[group]) {
        EXPECT_FALSE(each["image"].as<std::string>("").empty()) << each["name"] << " has no image";
        for (const YAML::Node& mount : each["volumeMounts"]) {
          EXPECT_TRUE(volumes.count(mount["name"].as<std::string>()))
              << each["name"] << " mounts unknown volume " << mount["name"];
        }
      }
    }

    // Secrets the pod reads: rendered ones hold the key; others are created out of band and
    // the overlay shows their shape in an example next to it.
    for (const YAML::Node& variable : container["env"]) {
      YAML::Node reference = At(variable, {"valueFrom", "secretKeyRef"});
      if (!reference) continue;
      std::string name = reference["name"].as<std::string>();
      std::string key = reference["key"].as<std::string>();
      if (std::optional<YAML::Node> secret = rendered.Find("Secret", name)) {
        EXPECT_TRUE(At(*secret, {"data", key.c_str()}) || At(*secret, {"stringData", key.c_str()}))
            << name << "/" << key;
        continue;
      }
      bool shown = false;
      for (const auto& entry : fs::directory_iterator(kKubernetes / "overlays" / overlay)) {
        if (entry.path().filename().string().find(".example.") == std::string::npos) continue;
        YAML::Node example = YAML::LoadFile(entry.path().string());
        shown = shown || (example["kind"].as<std::string>("") == "Secret" &&
                          At(example, {"metadata", "name"}).as<std::string>("") == name &&
                          (At(example, {"stringData", key.c_str()}) ||
                           At(example, {"data", key.c_str()})));
      }
      EXPECT_TRUE(shown) << "Secret " << name << " (key " << key
                         << ") is neither rendered nor shown in an *.example.yaml";
    }
  }
}

TEST(DeployManifests, ArgsUseFlagsTheBinaryHasAndTheServicePort) {
  for (const std::string& overlay : kOverlays) {
    SCOPED_TRACE(overlay);
    Rendered rendered = Render(overlay);
    YAML::Node statefulset = OnlyStatefulSet(rendered);
    ASSERT_TRUE(statefulset.IsMap());
    YAML::Node container = MainContainer(statefulset);
    std::vector<std::string> args = Strings(container["args"]);
    ASSERT_GE(args.size(), 2u);
    EXPECT_EQ(args[0], "run");
    CommandResult help = Shell(fmt::format("{} {} --help", Quoted(BRANDPULSE_BINARY), args[0]));
    ASSERT_EQ(help.exit_code, 0) << help.out;
    help.out += Shell(fmt::format("{} --help", Quoted(BRANDPULSE_BINARY))).out;  // global options
    for (const std::string& arg : args) {
      if (arg.rfind("-", 0) != 0) continue;
      std::string flag = arg.substr(0, arg.find('='));
      EXPECT_TRUE(std::regex_search(help.out, std::regex("(^|[ ,])" + flag + "([ ,=]|$)",
                                                         std::regex::multiline)))
          << "neither `brandpulse " << args[0] << " --help` nor `brandpulse --help` has " << flag;
    }
    std::string api = FlagValue(args, "--api");
    ASSERT_FALSE(api.empty()) << "the container serves no API (--api)";
    EXPECT_EQ(api.substr(0, api.rfind(':')), "0.0.0.0") << "only 127.0.0.1 would be unreachable";
    int port = std::stoi(api.substr(api.rfind(':') + 1));
    EXPECT_EQ(ContainerPorts(container)["http"], port)
        << "--api listens on " << port << ", the container port `http` says otherwise";
    // The pipeline argument is a file of a mounted ConfigMap.
    const YAML::Node pod_spec = statefulset["spec"]["template"]["spec"];
    bool found = false;
    for (const YAML::Node& mount : container["volumeMounts"]) {
      std::string path = mount["mountPath"].as<std::string>();
      if (!IsUnder(args[1], path)) continue;
      std::optional<YAML::Node> config_map =
          ConfigMapOfVolume(rendered, pod_spec, mount["name"].as<std::string>());
      found = config_map && (*config_map)["data"][args[1].substr(path.size() + 1)];
    }
    EXPECT_TRUE(found) << args[1] << " is no file of a mounted ConfigMap";
  }
}

TEST(DeployManifests, PipelinesValidateAndWriteOnlyToTheirVolumes) {
  for (const std::string& overlay : kOverlays) {
    SCOPED_TRACE(overlay);
    Rendered rendered = Render(overlay);
    YAML::Node statefulset = OnlyStatefulSet(rendered);
    ASSERT_TRUE(statefulset.IsMap());
    YAML::Node container = MainContainer(statefulset);
    std::string pipeline_path = Strings(container["args"]).at(1);
    fs::path root = MakeTempDirectory("deploy-validate-" + overlay);
    LayOutPod(rendered, statefulset, root);
    std::string text = MountedFile(rendered, statefulset, container, pipeline_path);
    ASSERT_FALSE(text.empty()) << pipeline_path << " is no file of a mounted ConfigMap";
    YAML::Node pipeline = YAML::Load(text);

    // State on the claim, outputs on writable volumes (the root file system is read-only).
    ASSERT_TRUE(container["securityContext"]["readOnlyRootFilesystem"].as<bool>(false));
    std::string state = pipeline["state"]["directory"].as<std::string>("");
    std::string claim = statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"].as<std::string>();
    EXPECT_TRUE(IsUnder(state, MountPathOf(container, claim)))
        << "state.directory " << state << " is not on the volume claim `" << claim << "`";
    std::vector<std::string> writable = WritableMountPaths(statefulset, container);
    for (const auto& stream : pipeline["sinks"]) {
      std::vector<YAML::Node> sinks;
      if (stream.second.IsSequence()) {
        for (const YAML::Node& sink : stream.second) sinks.push_back(sink);
      } else {
        sinks.push_back(stream.second);
      }
      for (const YAML::Node& sink : sinks) {
        if (sink["type"].as<std::string>("") != "file") continue;
        std::string path = sink["path"].as<std::string>();
        EXPECT_TRUE(std::any_of(writable.begin(), writable.end(),
                                [&](const std::string& mount) { return IsUnder(path, mount); }))
            << "sink " << stream.first << " writes " << path << ", not on a writable volume";
      }
    }

    // Every ${NAME} without a default is set in the container's environment.
    std::set<std::string> defined = {"POD_NAME"};
    for (const YAML::Node& variable : container["env"]) defined.insert(variable["name"].as<std::string>());
    std::string uncommented;  // what the YAML says, without its comments
    for (const std::string& line : brandpulse_test::Lines(text)) {
      size_t hash = line.find('#');
      while (hash != std::string::npos && hash > 0 && line[hash - 1] != ' ') hash = line.find('#', hash + 1);
      uncommented += line.substr(0, hash) + "\n";
    }
    std::regex reference(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
    std::map<std::string, std::string> env;
    for (auto it = std::sregex_iterator(uncommented.begin(), uncommented.end(), reference);
         it != std::sregex_iterator(); ++it) {
      std::string name = (*it)[1].str();
      EXPECT_TRUE(defined.count(name)) << "the pipeline reads ${" << name << "}, the pod sets none";
      env[name] = "placeholder";
    }
    // No secret written into the pipeline itself.
    EXPECT_FALSE(std::regex_search(uncommented, std::regex(R"((password|secret)\s*:\s*[^$\s{])")))
        << "a secret value is written in the pipeline; read it from the environment";

    // The binary accepts the pipeline as the pod would read it.
    std::string environment;
    for (const auto& [name, value] : env) environment += fmt::format("{}={} ", name, value);
    fs::path local = root / pipeline_path.substr(1);
    CommandResult validated = Shell(fmt::format("{} {} validate {} 2>&1", environment,
                                                Quoted(BRANDPULSE_BINARY), Quoted(local)));
    if (validated.exit_code != 0 && pipeline["source"]["type"].as<std::string>("") == "kafka" &&
        validated.out.find("kafka") != std::string::npos &&
        validated.out.find("not a valid type") != std::string::npos) {
      std::printf("NOTE: this binary has no `type: kafka` source yet (issue 11): the %s "
                  "pipeline is checked for paths and secrets only:\n%s\n",
                  overlay.c_str(), validated.out.c_str());
    } else {
      EXPECT_EQ(validated.exit_code, 0) << validated.out;
    }
    fs::remove_all(root);
  }
}

TEST(DeployManifests, DeployWatchlistIsTheOneInPipelines) {
  // The kustomize base cannot read files outside its folder, so it carries a copy.
  EXPECT_TRUE(ReadFile(kKubernetes / "base" / "watchlists" / "nordic-spanish-telecoms.yaml") ==
              ReadFile(kSource / "pipelines" / "watchlists" / "nordic-spanish-telecoms.yaml"))
      << "deploy/kubernetes/base/watchlists/ differs from pipelines/watchlists/: copy it again";
}

TEST(DeployManifests, PrometheusScrapeConfigsMatchTheManifests) {
  Rendered rendered = Render("laptop");
  YAML::Node statefulset = OnlyStatefulSet(rendered);
  ASSERT_TRUE(statefulset.IsMap());
  std::string headless = statefulset["spec"]["serviceName"].as<std::string>();
  int port = ContainerPorts(MainContainer(statefulset))["http"];
  std::string metrics_path = "/metrics";

  fs::path dns_config = kSource / "deploy" / "prometheus" / "prometheus.yml";
  YAML::Node config = YAML::LoadFile(dns_config.string());
  bool dns_job = false;
  for (const YAML::Node& job : config["scrape_configs"]) {
    EXPECT_EQ(job["metrics_path"].as<std::string>(""), metrics_path);
    for (const YAML::Node& dns : job["dns_sd_configs"]) {
      dns_job = true;
      EXPECT_EQ(dns["port"].as<int>(), port);
      for (const YAML::Node& name : dns["names"]) {
        EXPECT_EQ(name.as<std::string>().substr(0, name.as<std::string>().find('.')), headless);
      }
    }
  }
  EXPECT_TRUE(dns_job) << "no job finds the pods through the headless Service";

  fs::path sd_config = kSource / "deploy" / "prometheus" / "kubernetes-sd.yml";
  std::string sd_text = ReadFile(sd_config);
  EXPECT_NE(sd_text.find("regex: brandpulse\n"), std::string::npos);
  EXPECT_NE(sd_text.find("regex: http\n"), std::string::npos) << "keeps the port named http";

  std::optional<std::string> promtool = FindProgram("promtool");
  if (!promtool) {
    GTEST_SKIP() << "no promtool (Debian package prometheus): the scrape configs were checked "
                    "against the manifests only";
  }
  CommandResult checked =
      Shell(fmt::format("{} check config {} 2>&1", Quoted(*promtool), Quoted(dns_config)));
  EXPECT_EQ(checked.exit_code, 0) << checked.out;
  checked = Shell(fmt::format("{} check config {} 2>&1", Quoted(*promtool), Quoted(sd_config)));
  if (checked.out.find("field kubernetes_sd_configs not found") != std::string::npos) {
    std::printf("NOTE: this promtool is built without Kubernetes discovery (as Debian's is): "
                "kubernetes-sd.yml was checked against the manifests only\n");
  } else {
    EXPECT_EQ(checked.exit_code, 0) << checked.out;
  }
}

TEST(DeployManifests, PromqlMetricNamesAreExtracted) {
  EXPECT_EQ(MetricNamesIn("sum by (brand) (rate(brandpulse_brand_mentions_total{instance=~\"$instance\"}[$__rate_interval]))"),
            (std::set<std::string>{"brandpulse_brand_mentions_total"}));
  EXPECT_EQ(MetricNamesIn("histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket[5m]))) / on (instance) group_left b"),
            (std::set<std::string>{"a_seconds_bucket", "b"}));
  EXPECT_EQ(MetricNamesIn("time() - max(brandpulse_watermark_timestamp_seconds) > bool 60"),
            (std::set<std::string>{"brandpulse_watermark_timestamp_seconds"}));
}

TEST_F(LaptopPod, ProbesAnswerOnPathsTheBinaryServes) {
  std::string address = Start("run");
  ASSERT_FALSE(address.empty());
  for (const char* probe : {"startupProbe", "livenessProbe", "readinessProbe"}) {
    std::string path = container_[probe]["httpGet"]["path"].as<std::string>("");
    ASSERT_FALSE(path.empty()) << probe << " is not an httpGet probe";
    int status = 0;
    // Readiness may take a moment (state restore, watchlist compile); the others answer at once.
    for (int i = 0; i < 100; ++i) {
      httplib::Result response = Get(address, path);
      status = response ? response->status : 0;
      if (status == 200 || status == 404) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (status == 404 && path == "/readyz" && !fs::exists(kSource / "docs" / "operations.md")) {
      // Issue 15 adds /readyz; until it is merged the route does not exist to check against.
      std::printf("NOTE: this binary does not serve /readyz yet (issue 15 not merged): the "
                  "readiness probe's path is unchecked\n");
      continue;
    }
    EXPECT_EQ(status, 200) << probe << " GET " << path;
  }
}

TEST_F(LaptopPod, SigtermCommitsAndTheNextStartResumes) {
  std::string address = Start("first");
  ASSERT_FALSE(address.empty());
  // Let it read some of the input, then stop it the way the kubelet does.
  for (int i = 0; i < 200 && !Ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(::kill(process_.pid, SIGTERM), 0);
  double grace = statefulset_["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as<double>(30);
  std::optional<int> code = WaitExit(process_.pid, std::min(grace, 20.0));
  ASSERT_TRUE(code) << "still running after SIGTERM";
  process_.pid = -1;
  EXPECT_EQ(*code, 0) << ReadFile(process_.stderr_path);
  std::string summary = ReadFile(root_ / "first.out");
  std::smatch commits;
  ASSERT_TRUE(std::regex_search(summary, commits, std::regex(R"(commits ([0-9,]+))"))) << summary;
  EXPECT_NE(commits[1].str(), "0") << summary;

  Start("second");
  std::optional<int> exited;
  for (int i = 0; i < 200 && !exited; ++i) {
    if (Ready()) break;
    exited = WaitExit(process_.pid, 0.025);
  }
  // "resumed from committed position N" (plain) or "resumed from the committed position" (log).
  EXPECT_NE(ReadFile(process_.stderr_path).find("resumed from"), std::string::npos)
      << ReadFile(process_.stderr_path);
}

TEST_F(LaptopPod, GrafanaPanelsUseOnlyMetricsTheEngineExports) {
  std::string address = Start("run");
  ASSERT_FALSE(address.empty());
  std::set<std::string> exported;
  std::set<std::string> documented;  // docs/operations.md's list, when there is one
  std::string source;
  fs::path operations = kSource / "docs" / "operations.md";
  if (fs::exists(operations)) documented = DocumentedNames(ReadFile(operations));
  // Give the pipeline a commit, so per-sink and per-reason series exist.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  httplib::Result scrape = Get(address, "/metrics");
  if (scrape && scrape->status == 200) {
    exported = ExposedNames(scrape->body);
    source = "the live /metrics scrape";
  } else {
    if (documented.empty()) {
      GTEST_SKIP() << "this binary serves no /metrics and docs/operations.md does not exist "
                      "(issue 15 not merged): no list of exported metrics to compare with";
    }
    exported = documented;
    source = "docs/operations.md (this binary serves no /metrics yet)";
  }
  std::printf("NOTE: dashboard metrics compared with %s (%zu names)\n", source.c_str(),
              exported.size());
  ASSERT_FALSE(exported.empty());
  std::vector<std::string> expressions = DashboardExpressions();
  ASSERT_GE(expressions.size(), 10u) << "the dashboard has hardly any queries";
  std::set<std::string> used;
  std::set<std::string> unseen;  // documented, labelled per event, no series in this short run
  for (const std::string& expression : expressions) {
    for (const std::string& name : MetricNamesIn(expression)) {
      used.insert(name);
      if (!exported.count(name) && documented.count(name)) {
        unseen.insert(name);
        continue;
      }
      EXPECT_TRUE(exported.count(name))
          << "the dashboard reads `" << name << "`, which " << source << " does not have ("
          << expression << ")";
    }
  }
  EXPECT_GE(used.size(), 10u);
  // A family whose series are made per event (alerts per rule) has none until the first one.
  EXPECT_LE(unseen.size(), 2u) << "most of the dashboard should show in a short run's scrape";
  for (const std::string& name : unseen) {
    std::printf("NOTE: %s has no series in this short run; docs/operations.md lists it\n",
                name.c_str());
  }
}
