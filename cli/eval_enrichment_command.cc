// `brandpulse eval-enrichment FILE.tsv [--json]`: scores enrichment against labelled posts.
// Post lines: lang<TAB>sentiment<TAB>intents<TAB>text (sentiment neg|neu|pos; intents
// space-separated codes Q C P B X S, empty for none). Per-brand lines:
// lang<TAB>Brand=label;Brand=label<TAB>text. Lines starting with '#' are comments. The engine is
// not told the labelled language: it detects it, as it does for a post without a payload tag.
#include <ctime>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/split_fields.h"
#include "engine/enrichment_fields.h"
#include "operators/enrich_text.h"

namespace brandpulse {
namespace {

constexpr char kIntentCodes[] = {'Q', 'C', 'P', 'B', 'X', 'S'};
constexpr uint32_t kIntentBits[] = {enrichment::kIntentQuestion, enrichment::kIntentComplaint,
                                    enrichment::kIntentPraise,   enrichment::kIntentPurchase,
                                    enrichment::kIntentChurn,    enrichment::kIntentSupport};

int ClassIndex(SentimentClass sentiment) {
  return sentiment == SentimentClass::kNegative ? 0 : sentiment == SentimentClass::kPositive ? 2 : 1;
}
constexpr const char* kClassCodes[] = {"neg", "neu", "pos"};

struct Scores {
  int n = 0;
  int confusion[3][3] = {};  // [gold][predicted]
  int intent_tp[6] = {}, intent_fp[6] = {}, intent_fn[6] = {};
  int language_right = 0;
  int variant_right = 0, variant_n = 0;

  double Accuracy() const {
    int right = 0;
    for (int c = 0; c < 3; ++c) right += confusion[c][c];
    return n == 0 ? 0 : static_cast<double>(right) / n;
  }
  double MacroF1() const {
    double total = 0;
    int classes = 0;
    for (int c = 0; c < 3; ++c) {
      int gold = 0, predicted = 0;
      for (int k = 0; k < 3; ++k) { gold += confusion[c][k]; predicted += confusion[k][c]; }
      if (gold == 0 && predicted == 0) continue;
      ++classes;
      const double p = predicted == 0 ? 0 : static_cast<double>(confusion[c][c]) / predicted;
      const double r = gold == 0 ? 0 : static_cast<double>(confusion[c][c]) / gold;
      total += p + r == 0 ? 0 : 2 * p * r / (p + r);
    }
    return classes == 0 ? 0 : total / classes;
  }
  void Intent(int i, double& p, double& r, double& f1) const {
    p = intent_tp[i] + intent_fp[i] == 0 ? 0 : static_cast<double>(intent_tp[i]) / (intent_tp[i] + intent_fp[i]);
    r = intent_tp[i] + intent_fn[i] == 0 ? 0 : static_cast<double>(intent_tp[i]) / (intent_tp[i] + intent_fn[i]);
    f1 = p + r == 0 ? 0 : 2 * p * r / (p + r);
  }
  void Add(const Scores& other) {
    n += other.n;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) confusion[a][b] += other.confusion[a][b];
    for (int i = 0; i < 6; ++i) {
      intent_tp[i] += other.intent_tp[i];
      intent_fp[i] += other.intent_fp[i];
      intent_fn[i] += other.intent_fn[i];
    }
    language_right += other.language_right;
    variant_right += other.variant_right;
    variant_n += other.variant_n;
  }
};

struct BrandScores {
  int n = 0, right = 0;
};

// CPU time of this thread: the machine may be shared, wall time would count the others.
int64_t ThreadCpuNs() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

double Round3(double value) { return std::round(value * 1000) / 1000; }

void PrintText(const std::string& name, const Scores& scores) {
  std::printf("%s: n=%d  sentiment accuracy %.3f  macro-F1 %.3f  language %.3f", name.c_str(),
              scores.n, scores.Accuracy(), scores.MacroF1(),
              scores.n == 0 ? 0.0 : static_cast<double>(scores.language_right) / scores.n);
  if (scores.variant_n > 0) {
    std::printf("  variant %.3f", static_cast<double>(scores.variant_right) / scores.variant_n);
  }
  std::printf("\n  confusion (rows gold, columns predicted)   neg   neu   pos\n");
  for (int gold = 0; gold < 3; ++gold) {
    std::printf("  %-41s %5d %5d %5d\n", kClassCodes[gold], scores.confusion[gold][0],
                scores.confusion[gold][1], scores.confusion[gold][2]);
  }
  for (int i = 0; i < 6; ++i) {
    double p, r, f1;
    scores.Intent(i, p, r, f1);
    const int gold = scores.intent_tp[i] + scores.intent_fn[i];
    std::printf("  intent %c  P %.3f  R %.3f  F1 %.3f  (gold %d)\n", kIntentCodes[i], p, r, f1, gold);
  }
}

std::string ScoresJson(const Scores& scores) {
  std::string confusion;
  for (int gold = 0; gold < 3; ++gold) {
    confusion += fmt::format("{}\"{}\": {{\"neg\": {}, \"neu\": {}, \"pos\": {}}}",
                             gold == 0 ? "" : ", ", kClassCodes[gold], scores.confusion[gold][0],
                             scores.confusion[gold][1], scores.confusion[gold][2]);
  }
  std::string intents;
  for (int i = 0; i < 6; ++i) {
    double p, r, f1;
    scores.Intent(i, p, r, f1);
    intents += fmt::format("{}\"{}\": {{\"p\": {}, \"r\": {}, \"f1\": {}}}", i == 0 ? "" : ", ",
                           kIntentCodes[i], Round3(p), Round3(r), Round3(f1));
  }
  return fmt::format(
      "{{\"n\": {}, \"sentiment_accuracy\": {}, \"sentiment_macro_f1\": {}, \"language_accuracy\": {}, "
      "{}\"confusion\": {{{}}}, \"intents\": {{{}}}}}",
      scores.n, Round3(scores.Accuracy()), Round3(scores.MacroF1()),
      Round3(scores.n == 0 ? 0.0 : static_cast<double>(scores.language_right) / scores.n),
      scores.variant_n == 0
          ? std::string()
          : fmt::format("\"variant_accuracy\": {}, ",
                        Round3(static_cast<double>(scores.variant_right) / scores.variant_n)),
      confusion, intents);
}

// Case-insensitive ASCII search for a brand name in the text.
size_t FindCaseless(std::string_view text, std::string_view name) {
  for (size_t i = 0; i + name.size() <= text.size(); ++i) {
    bool equal = true;
    for (size_t k = 0; k < name.size() && equal; ++k) {
      char a = text[i + k], b = name[k];
      if (a >= 'A' && a <= 'Z') a = static_cast<char>(a + 32);
      if (b >= 'A' && b <= 'Z') b = static_cast<char>(b + 32);
      equal = a == b;
    }
    if (equal) return i;
  }
  return std::string_view::npos;
}

// The payload tag a post would carry when the labelled language is given as its tag: bokmål and
// nynorsk posts as plain "no", as most platforms tag them (the variant is left to the engine).
std::string_view PayloadOf(const std::string& language, bool payload_language) {
  if (!payload_language) return {};
  if (language == "nb" || language == "nn") return "no";
  return language;
}

// One line per post: everything Enrich() decided (to compare two builds line by line).
void PrintPrediction(int line_number, const TextEnrichment& result) {
  std::printf("%d\t%.*s\t%.*s\t%s\t%.6f\t%d\t%u\t", line_number,
              static_cast<int>(result.language.size()), result.language.data(),
              static_cast<int>(result.variant.size()), result.variant.data(),
              kClassCodes[ClassIndex(result.sentiment)], result.score, result.confidence,
              result.intents);
  for (SentimentClass brand : result.brand_sentiment) std::printf("%s ", kClassCodes[ClassIndex(brand)]);
  std::printf("\n");
}

int EvalEnrichment(const std::string& path, bool as_json, bool show_errors, bool words_only,
                   bool show_predictions, bool payload_language, bool rules_only,
                   const std::string& model_path) {
  std::ifstream file(path);
  if (!file) {
    std::fprintf(stderr, "brandpulse: cannot read %s\n", path.c_str());
    return 2;
  }
  EnrichOptions options;
  options.intents_feed_sentiment = !words_only;
  options.use_model = !rules_only;
  std::string model_text;
  if (!model_path.empty()) {
    std::ifstream model_file(model_path, std::ios::binary);
    if (!model_file) {
      std::fprintf(stderr, "brandpulse: cannot read %s\n", model_path.c_str());
      return 2;
    }
    model_text.assign(std::istreambuf_iterator<char>(model_file), std::istreambuf_iterator<char>());
  }
  auto enricher = TextEnricher::Make(options, model_text);
  if (!enricher.ok()) {
    std::fprintf(stderr, "brandpulse: %s\n", enricher.status().ToString().c_str());
    return 1;
  }
  EnrichScratch scratch;
  if (Status status = (*enricher)->Prepare(scratch); !status.ok()) {
    std::fprintf(stderr, "brandpulse: %s\n", status.ToString().c_str());
    return 1;
  }
  std::map<std::string, Scores> by_language;
  std::map<std::string, BrandScores> brands_by_language;
  std::string line;
  int line_number = 0;
  TextEnrichment result;
  std::vector<BrandSpan> spans;
  int64_t enrich_ns = 0;  // time in Enrich() for the post lines
  while (std::getline(file, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string_view> fields = SplitFields(line, '\t');
    const std::string language(fields[0]);
    if (fields.size() == 3 && fields[1].find('=') != std::string_view::npos) {
      // Per-brand line.
      const std::string_view text = fields[2];
      std::vector<std::pair<std::string_view, std::string_view>> labels;
      spans.clear();
      for (std::string_view item : SplitFields(fields[1], ';')) {
        const size_t equals = item.find('=');
        const std::string_view brand = item.substr(0, equals);
        const size_t at = FindCaseless(text, brand);
        if (equals == std::string_view::npos || at == std::string_view::npos) {
          std::fprintf(stderr, "%s:%d:1: brand \"%.*s\" is not in the text\n", path.c_str(),
                       line_number, static_cast<int>(brand.size()), brand.data());
          return 2;
        }
        labels.emplace_back(brand, item.substr(equals + 1));
        spans.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(at + brand.size())});
      }
      (*enricher)->Enrich(text, PayloadOf(language, payload_language), spans, scratch, result);
      if (show_predictions) PrintPrediction(line_number, result);
      if (show_errors) {
        std::string got;
        for (size_t b = 0; b < labels.size(); ++b) {
          got += fmt::format("{}={} ", labels[b].first, kClassCodes[ClassIndex(result.brand_sentiment[b])]);
        }
        std::printf("%s:%d: brands %s want %.*s  %.*s\n", path.c_str(), line_number, got.c_str(),
                    static_cast<int>(fields[1].size()), fields[1].data(),
                    static_cast<int>(text.size()), text.data());
      }
      for (size_t b = 0; b < labels.size(); ++b) {
        const std::string_view predicted =
            kClassCodes[ClassIndex(result.brand_sentiment[b])];
        BrandScores& scores = brands_by_language[language];
        ++scores.n;
        if (predicted == labels[b].second) ++scores.right;
      }
      continue;
    }
    if (fields.size() != 4) {
      std::fprintf(stderr, "%s:%d:1: expected 4 tab-separated fields (lang, sentiment, intents, text), found %zu\n",
                   path.c_str(), line_number, fields.size());
      return 2;
    }
    int gold = -1;
    for (int c = 0; c < 3; ++c) {
      if (fields[1] == kClassCodes[c]) gold = c;
    }
    if (gold < 0) {
      std::fprintf(stderr, "%s:%d:%zu: sentiment must be neg, neu or pos, not \"%.*s\"\n",
                   path.c_str(), line_number, fields[0].size() + 2,
                   static_cast<int>(fields[1].size()), fields[1].data());
      return 2;
    }
    uint32_t gold_intents = 0;
    for (std::string_view code : SplitFields(fields[2], ' ')) {
      if (code.empty()) continue;
      bool known = false;
      for (int i = 0; i < 6; ++i) {
        if (code.size() == 1 && code[0] == kIntentCodes[i]) { gold_intents |= kIntentBits[i]; known = true; }
      }
      if (!known) {
        std::fprintf(stderr, "%s:%d: unknown intent code \"%.*s\" (Q C P B X S)\n", path.c_str(),
                     line_number, static_cast<int>(code.size()), code.data());
        return 2;
      }
    }
    spans.clear();
    const int64_t started = ThreadCpuNs();
    (*enricher)->Enrich(fields[3], PayloadOf(language, payload_language), spans, scratch, result);
    enrich_ns += ThreadCpuNs() - started;
    if (show_predictions) PrintPrediction(line_number, result);
    Scores& scores = by_language[language];
    ++scores.n;
    if (show_errors) {
      std::string got;
      for (int i = 0; i < 6; ++i) {
        if (result.intents & kIntentBits[i]) got += got.empty() ? std::string(1, kIntentCodes[i]) : std::string(" ") + kIntentCodes[i];
      }
      const char* predicted = kClassCodes[ClassIndex(result.sentiment)];
      if (predicted != fields[1] || result.intents != gold_intents) {
        std::printf("%s:%d: %s %s [%s] want %.*s [%.*s] score %.2f lang %.*s  %.*s\n", path.c_str(),
                    line_number, language.c_str(), predicted, got.c_str(),
                    static_cast<int>(fields[1].size()), fields[1].data(),
                    static_cast<int>(fields[2].size()), fields[2].data(), result.score,
                    static_cast<int>(result.language.size()), result.language.data(),
                    static_cast<int>(fields[3].size()), fields[3].data());
      }
    }
    ++scores.confusion[gold][ClassIndex(result.sentiment)];
    for (int i = 0; i < 6; ++i) {
      const bool want = gold_intents & kIntentBits[i], got = result.intents & kIntentBits[i];
      if (want && got) ++scores.intent_tp[i];
      if (!want && got) ++scores.intent_fp[i];
      if (want && !got) ++scores.intent_fn[i];
    }
    const bool norwegian = language == "nb" || language == "nn" || language == "no";
    if (result.language == (norwegian ? std::string_view("no") : std::string_view(language))) {
      ++scores.language_right;
    }
    if (language == "nb" || language == "nn") {
      ++scores.variant_n;
      if (result.variant == language) ++scores.variant_right;
    }
  }

  // Norwegian as one language besides its variants.
  Scores all, norwegian;
  for (const auto& [language, scores] : by_language) {
    all.Add(scores);
    if (language == "nb" || language == "nn") norwegian.Add(scores);
  }
  std::map<std::string, Scores> reported = by_language;
  if (norwegian.n > 0 && !by_language.count("no")) reported["no"] = norwegian;
  BrandScores brands_all;
  for (const auto& [language, scores] : brands_by_language) {
    brands_all.n += scores.n;
    brands_all.right += scores.right;
  }

  if (as_json) {
    std::string out = "{\"languages\": {";
    bool first = true;
    for (const auto& [language, scores] : reported) {
      out += fmt::format("{}\"{}\": {}", first ? "" : ", ", language, ScoresJson(scores));
      first = false;
    }
    out += fmt::format("}}, \"all\": {}", ScoresJson(all));
    if (brands_all.n > 0) {
      out += fmt::format(", \"brands\": {{\"n\": {}, \"accuracy\": {}, \"languages\": {{",
                         brands_all.n, Round3(static_cast<double>(brands_all.right) / brands_all.n));
      first = true;
      for (const auto& [language, scores] : brands_by_language) {
        out += fmt::format("{}\"{}\": {{\"n\": {}, \"accuracy\": {}}}", first ? "" : ", ",
                           language, scores.n, Round3(static_cast<double>(scores.right) / scores.n));
        first = false;
      }
      out += "}}";
    }
    out += "}";
    std::printf("%s\n", out.c_str());
    return 0;
  }
  for (const auto& [language, scores] : reported) PrintText(language, scores);
  if (all.n > 0) {
    PrintText("all", all);
    std::printf("time: %.2f us CPU per post (language, sentiment, intents; %d posts)\n",
                enrich_ns / 1000.0 / all.n, all.n);
  }
  if (brands_all.n > 0) {
    std::printf("per-brand sentiment: n=%d accuracy %.3f\n", brands_all.n,
                static_cast<double>(brands_all.right) / brands_all.n);
    for (const auto& [language, scores] : brands_by_language) {
      std::printf("  %s: n=%d accuracy %.3f\n", language.c_str(), scores.n,
                  static_cast<double>(scores.right) / scores.n);
    }
  }
  return 0;
}

}  // namespace

void RegisterEvalEnrichmentCommand(CLI::App& app, CliCommands& commands) {
  CLI::App* command = app.add_subcommand(
      "eval-enrichment",
      "Score language, sentiment and intent detection against a labelled TSV file");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto show_errors = std::make_shared<bool>(false);
  auto words_only = std::make_shared<bool>(false);
  auto show_predictions = std::make_shared<bool>(false);
  auto payload_language = std::make_shared<bool>(false);
  auto rules_only = std::make_shared<bool>(false);
  auto model_path = std::make_shared<std::string>();
  command->add_option("file", *path, "lang<TAB>sentiment<TAB>intents<TAB>text lines")->required();
  command->add_flag("--json", *as_json, "one JSON object instead of the text report");
  command->add_flag("--errors", *show_errors, "also print every post scored differently from its label");
  command->add_flag("--words-only", *words_only,
                    "sentiment from the words alone, without intent cues (general, non-customer text)");
  command->add_flag("--predictions", *show_predictions,
                    "also print, per post, line number, language, variant, sentiment, score, "
                    "confidence, intent bits and the sentiment towards each brand");
  command->add_flag("--payload-language", *payload_language,
                    "give the engine the labelled language as the post's payload tag (nb and nn "
                    "as \"no\"), as a platform's tag would be; by default it detects it");
  command->add_flag("--rules-only", *rules_only,
                    "the rules alone, without the linear model (operators/enrich_model.h)");
  command->add_option("--model", *model_path,
                      "a model file written by train-enrichment instead of the shipped one");
  commands.push_back({command, [path, as_json, show_errors, words_only, show_predictions,
                                payload_language, rules_only, model_path] {
                        return EvalEnrichment(*path, *as_json, *show_errors, *words_only,
                                              *show_predictions, *payload_language, *rules_only,
                                              *model_path);
                      }});
}

}  // namespace brandpulse
