#include "engine/metrics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace brandpulse {
namespace {

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

std::string LabelText(const MetricLabels& labels, std::string_view extra_name = {},
                      std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out += name;
    out += "=\"";
    out += EscapeMetricLabelValue(value);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out += fmt::format("{}=\"{}\"", extra_name, extra_value);
  }
  out.push_back('}');
  return out;
}

std::string Key(std::string_view name, const MetricLabels& labels) {
  return std::string(name) + LabelText(labels);
}

// Samples grouped by family, so each family's HELP and TYPE come once, before its samples.
class FamilyWriter final : public MetricsWriter {
 public:
  struct Family {
    std::string type;
    std::string help;
    std::vector<std::string> samples;
  };

  Family& Get(std::string_view name, std::string_view type, std::string_view help) {
    Family& family = families_[std::string(name)];
    if (family.type.empty()) {
      family.type = std::string(type);
      family.help = std::string(help);
    }
    return family;
  }
  void Counter(std::string_view name, std::string_view help, const MetricLabels& labels,
               double value) override {
    Get(name, "counter", help).samples.push_back(
        fmt::format("{}{} {}", name, LabelText(labels), FormatValue(value)));
  }
  void Gauge(std::string_view name, std::string_view help, const MetricLabels& labels,
             double value) override {
    Get(name, "gauge", help).samples.push_back(
        fmt::format("{}{} {}", name, LabelText(labels), FormatValue(value)));
  }
  void Histogram(std::string_view name, std::string_view help, const MetricLabels& labels,
                 const MetricHistogram& histogram) {
    Family& family = Get(name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= histogram.bounds().size(); ++i) {
      cumulative += histogram.bucket(i);
      std::string le = i < histogram.bounds().size() ? FormatValue(histogram.bounds()[i]) : "+Inf";
      family.samples.push_back(
          fmt::format("{}_bucket{} {}", name, LabelText(labels, "le", le), cumulative));
    }
    family.samples.push_back(
        fmt::format("{}_sum{} {}", name, LabelText(labels), FormatValue(histogram.sum())));
    family.samples.push_back(fmt::format("{}_count{} {}", name, LabelText(labels), cumulative));
  }

  void Describe(std::string_view name, std::string_view type, std::string_view help) {
    Get(name, type, help);
  }

  std::string Text() const {
    std::string out;
    for (const auto& [name, family] : families_) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(family.help), name,
                         family.type);
      for (const std::string& sample : family.samples) {
        out += sample;
        out.push_back('\n');
      }
    }
    return out;
  }

 private:
  std::map<std::string, Family> families_;
};

}  // namespace

std::string EscapeMetricLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

MetricHistogram::MetricHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void MetricHistogram::Observe(double value) noexcept {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

MetricsCollectorHandle& MetricsCollectorHandle::operator=(MetricsCollectorHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void MetricsCollectorHandle::Reset() {
  if (registry_ != nullptr) registry_->RemoveCollector(id_);
  registry_ = nullptr;
  id_ = 0;
}

MetricsRegistry& MetricsRegistry::Default() {
  static MetricsRegistry* registry = new MetricsRegistry();  // never destroyed: used at exit
  return *registry;
}

MetricsRegistry::Instrument& MetricsRegistry::Find(Kind kind, std::string_view name,
                                                   std::string_view help,
                                                   const MetricLabels& labels,
                                                   std::vector<double>* bounds) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<Instrument>& slot = instruments_[Key(name, labels)];
  if (!slot) {
    slot = std::make_unique<Instrument>();
    slot->kind = kind;
    slot->name = std::string(name);
    slot->help = std::string(help);
    slot->labels = labels;
    if (kind == Kind::kCounter) slot->counter = std::make_unique<MetricCounter>();
    if (kind == Kind::kGauge) slot->gauge = std::make_unique<MetricGauge>();
    if (kind == Kind::kHistogram) slot->histogram = std::make_unique<MetricHistogram>(*bounds);
  }
  return *slot;
}

MetricCounter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                           const MetricLabels& labels) {
  Instrument& instrument = Find(Kind::kCounter, name, help, labels, nullptr);
  if (!instrument.counter) instrument.counter = std::make_unique<MetricCounter>();
  return *instrument.counter;
}

MetricGauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                       const MetricLabels& labels) {
  Instrument& instrument = Find(Kind::kGauge, name, help, labels, nullptr);
  if (!instrument.gauge) instrument.gauge = std::make_unique<MetricGauge>();
  return *instrument.gauge;
}

MetricHistogram& MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                               std::vector<double> bounds,
                                               const MetricLabels& labels) {
  Instrument& instrument = Find(Kind::kHistogram, name, help, labels, &bounds);
  if (!instrument.histogram) instrument.histogram = std::make_unique<MetricHistogram>(bounds);
  return *instrument.histogram;
}

void MetricsRegistry::DescribeCounterFamily(std::string_view name, std::string_view help) {
  std::lock_guard lock(mutex_);
  described_counters_.emplace(std::string(name), std::string(help));
}

MetricsCollectorHandle MetricsRegistry::AddCollector(Collector collect) {
  std::lock_guard lock(mutex_);
  uint64_t id = next_collector_id_++;
  collectors_.emplace(id, std::move(collect));
  return MetricsCollectorHandle(this, id);
}

void MetricsRegistry::RemoveCollector(uint64_t id) {
  std::lock_guard lock(mutex_);
  collectors_.erase(id);
}

std::string MetricsRegistry::Render() const {
  FamilyWriter writer;
  std::lock_guard lock(mutex_);
  for (const auto& [name, help] : described_counters_) writer.Describe(name, "counter", help);
  for (const auto& [key, instrument] : instruments_) {
    switch (instrument->kind) {
      case Kind::kCounter:
        writer.Counter(instrument->name, instrument->help, instrument->labels,
                       static_cast<double>(instrument->counter->value()));
        break;
      case Kind::kGauge:
        writer.Gauge(instrument->name, instrument->help, instrument->labels,
                     instrument->gauge->value());
        break;
      case Kind::kHistogram:
        writer.Histogram(instrument->name, instrument->help, instrument->labels,
                         *instrument->histogram);
        break;
    }
  }
  for (const auto& [id, collect] : collectors_) collect(writer);
  return writer.Text();
}

}  // namespace brandpulse
