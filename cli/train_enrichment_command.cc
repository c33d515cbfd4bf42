// `brandpulse train-enrichment TRAIN.tsv --out MODEL.inc`: trains enrichment's linear model
// (operators/enrich_model.h) on labelled posts (the eval-enrichment format; per-brand lines are
// skipped) and writes it in the form compiled into the binary. Deterministic: the same posts and
// options give the same file.
//
// The regularisation strength is chosen by k-fold cross-validation on the training posts, and
// so is, per rule language and head (sentiment, each intent), whether the model or the rules
// decide: the model only where its held-out-fold figure beats the rules' figure on the same
// posts (the rules were tuned on these posts, so this favours the rules). No other file is read:
// the frozen test part and VADER's tweets stay out of training.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/split_fields.h"
#include "engine/enrichment_fields.h"
#include "operators/enrich_model.h"
#include "operators/enrich_text.h"

namespace brandpulse {
namespace {

using enrich_model::Features;
using enrich_model::Model;

constexpr char kIntentCodes[] = {'Q', 'C', 'P', 'B', 'X', 'S'};
constexpr const char* kLanguageNames[] = {"other", "en", "no", "es"};
constexpr int kHeadGroups = 7;  // sentiment, then the six intents
constexpr const char* kHeadNames[] = {"sentiment", "Q", "C", "P", "B", "X", "S"};

struct Labelled {
  Features features;
  int sentiment = 1;  // 0 neg, 1 neu, 2 pos
  uint32_t intents = 0;
  int rule_sentiment = 1;
  uint32_t rule_intents = 0;
  int fold = 0;
};

int ClassOf(SentimentClass sentiment) {
  return sentiment == SentimentClass::kNegative ? 0 : sentiment == SentimentClass::kPositive ? 2 : 1;
}

// Predictions for one post: sentiment class and intent bits.
struct Prediction {
  int sentiment = 1;
  uint32_t intents = 0;
};

Prediction Predict(const Model& model, const Features& features) {
  float logits[enrich_model::kHeads];
  model.Score(features, logits);
  Prediction prediction;
  prediction.sentiment = logits[0] >= logits[1] && logits[0] >= logits[2] ? 0 : logits[2] > logits[1] ? 2 : 1;
  for (int bit = 0; bit < 6; ++bit) {
    if (logits[enrich_model::kIntentHead + bit] > 0) prediction.intents |= 1u << bit;
  }
  return prediction;
}

// Figures of one head group over a set of posts: macro-F1 (sentiment) or F1 (an intent).
struct Tally {
  int confusion[3][3] = {};
  int tp[6] = {}, fp[6] = {}, fn[6] = {};
  int n = 0;
  void Add(int gold_sentiment, uint32_t gold_intents, const Prediction& got) {
    ++n;
    ++confusion[gold_sentiment][got.sentiment];
    for (int bit = 0; bit < 6; ++bit) {
      const bool want = (gold_intents >> bit) & 1u, have = (got.intents >> bit) & 1u;
      tp[bit] += want && have;
      fp[bit] += !want && have;
      fn[bit] += want && !have;
    }
  }
  double Figure(int group) const {
    auto f1 = [](int tp, int fp, int fn) {
      return tp == 0 ? 0.0 : 2.0 * tp / (2.0 * tp + fp + fn);
    };
    if (group > 0) return f1(tp[group - 1], fp[group - 1], fn[group - 1]);
    double total = 0;
    int classes = 0;
    for (int c = 0; c < 3; ++c) {
      int gold = 0, predicted = 0;
      for (int k = 0; k < 3; ++k) { gold += confusion[c][k]; predicted += confusion[k][c]; }
      if (gold == 0 && predicted == 0) continue;
      ++classes;
      total += f1(confusion[c][c], predicted - confusion[c][c], gold - confusion[c][c]);
    }
    return classes == 0 ? 0 : total / classes;
  }
  int Gold(int group) const { return group == 0 ? n : tp[group - 1] + fn[group - 1]; }
};

// Held-out predictions: each post predicted by the model trained on the other folds.
struct CrossValidation {
  std::vector<Prediction> held_out;  // per post
  Tally model_all;
};

CrossValidation CrossValidate(const std::vector<Labelled>& posts, int folds, uint32_t buckets,
                              const Model::TrainOptions& options) {
  CrossValidation result;
  result.held_out.resize(posts.size());
  for (int fold = 0; fold < folds; ++fold) {
    std::vector<Model::Sample> training;
    for (const Labelled& post : posts) {
      if (post.fold != fold) training.push_back({&post.features, post.sentiment, post.intents});
    }
    Model model(buckets);
    model.Train(training, options);
    for (size_t p = 0; p < posts.size(); ++p) {
      if (posts[p].fold != fold) continue;
      result.held_out[p] = Predict(model, posts[p].features);
      result.model_all.Add(posts[p].sentiment, posts[p].intents, result.held_out[p]);
    }
  }
  return result;
}

// What the model is chosen on: sentiment macro-F1, question and complaint F1 over all posts.
double Objective(const Tally& tally) { return tally.Figure(0) + tally.Figure(1) + tally.Figure(2); }

// Reads labelled post lines of `path` and runs the rules over them (features and the rules'
// decisions). Returns 0 or the exit code of an error already printed.
int ReadLabelled(const std::string& path, const TextEnricher& enricher, EnrichScratch& scratch,
                 int folds, std::vector<Labelled>& posts) {
  std::ifstream file(path);
  if (!file) {
    std::fprintf(stderr, "brandpulse: cannot read %s\n", path.c_str());
    return 2;
  }
  std::map<std::string, int> seen_per_language;  // folds: every k-th post of each language
  std::string line;
  int line_number = 0;
  TextEnrichment result;
  const std::vector<BrandSpan> no_brands;
  while (std::getline(file, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string_view> fields = SplitFields(line, '\t');
    if (fields.size() == 3) continue;  // a per-brand line
    if (fields.size() != 4) {
      std::fprintf(stderr, "%s:%d:1: expected 4 tab-separated fields (lang, sentiment, intents, text)\n",
                   path.c_str(), line_number);
      return 2;
    }
    Labelled post;
    post.sentiment = fields[1] == "neg" ? 0 : fields[1] == "pos" ? 2 : fields[1] == "neu" ? 1 : -1;
    if (post.sentiment < 0) {
      std::fprintf(stderr, "%s:%d:%zu: sentiment must be neg, neu or pos\n", path.c_str(),
                   line_number, fields[0].size() + 2);
      return 2;
    }
    for (char code : fields[2]) {
      if (code == ' ') continue;
      const char* at = std::find(std::begin(kIntentCodes), std::end(kIntentCodes), code);
      if (at == std::end(kIntentCodes)) {
        std::fprintf(stderr, "%s:%d: unknown intent code '%c' (Q C P B X S)\n", path.c_str(),
                     line_number, code);
        return 2;
      }
      post.intents |= 1u << (at - std::begin(kIntentCodes));
    }
    // As eval-enrichment scores it: the language detected, not told.
    enricher.Enrich(fields[3], {}, no_brands, scratch, result);
    post.features = scratch.features();
    post.rule_sentiment = ClassOf(scratch.rule_sentiment());
    post.rule_intents = scratch.rule_intents();
    post.fold = seen_per_language[std::string(fields[0])]++ % folds;
    posts.push_back(std::move(post));
  }
  if (posts.empty()) {
    std::fprintf(stderr, "brandpulse: %s has no labelled posts\n", path.c_str());
    return 2;
  }
  return 0;
}

int TrainEnrichment(const std::string& path, const std::string& out_path, int folds,
                    uint32_t buckets, int iterations, double margin, bool balance_classes,
                    const std::string& check_path) {
  if (folds < 2 || buckets == 0 || (buckets & (buckets - 1)) != 0) {
    std::fprintf(stderr, "brandpulse: --folds must be at least 2 and --buckets a power of two\n");
    return 2;
  }
  EnrichOptions options;
  options.use_model = false;  // the rules' own findings are the model's features
  options.keep_features = true;
  auto enricher = TextEnricher::Make(options);
  if (!enricher.ok()) {
    std::fprintf(stderr, "brandpulse: %s\n", enricher.status().ToString().c_str());
    return 1;
  }
  EnrichScratch scratch;
  if (Status status = (*enricher)->Prepare(scratch); !status.ok()) {
    std::fprintf(stderr, "brandpulse: %s\n", status.ToString().c_str());
    return 1;
  }
  std::vector<Labelled> posts, check;
  if (int code = ReadLabelled(path, **enricher, scratch, folds, posts); code != 0) return code;
  if (!check_path.empty()) {
    if (int code = ReadLabelled(check_path, **enricher, scratch, folds, check); code != 0) return code;
  }

  // The regularisation strength with the best held-out figures, without and with the words.
  // The words (thousands of weights from a few hundred posts) must beat the rules' features
  // alone by more than kWordsMustGain (sentiment macro-F1 + Q F1 + C F1) to be kept.
  constexpr double kWordsMustGain = 0.01;
  Model::TrainOptions train_options;
  train_options.iterations = iterations;
  train_options.balance_classes = balance_classes;
  constexpr double kStrengths[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2};
  double best_objective[2] = {-1, -1};
  CrossValidation best[2];
  double best_l2[2] = {0, 0};
  for (int with_words = 0; with_words < 2; ++with_words) {
    for (double l2 : kStrengths) {
      Model::TrainOptions candidate = train_options;
      candidate.l2 = l2;
      CrossValidation cv = CrossValidate(posts, folds, with_words ? buckets : 0, candidate);
      const double objective = Objective(cv.model_all);
      std::printf("%s, l2 %g: held-out sentiment macro-F1 %.3f, Q F1 %.3f, C F1 %.3f\n",
                  with_words ? "with words" : "rules' features only", l2, cv.model_all.Figure(0),
                  cv.model_all.Figure(1), cv.model_all.Figure(2));
      if (objective > best_objective[with_words]) {
        best_objective[with_words] = objective;
        best[with_words] = cv;
        best_l2[with_words] = l2;
      }
    }
  }
  const int with_words = best_objective[1] > best_objective[0] + kWordsMustGain ? 1 : 0;
  train_options.l2 = best_l2[with_words];
  const uint32_t model_buckets = with_words ? buckets : 0;

  std::vector<Model::Sample> all;
  for (const Labelled& post : posts) all.push_back({&post.features, post.sentiment, post.intents});
  Model model(model_buckets);
  model.Train(all, train_options);
  std::string report = fmt::format(
      "# Trained by `brandpulse train-enrichment {} --folds {} --buckets {} --iterations {} --margin {}{}{}`\n"
      "# on {} posts; {} (held-out sentiment macro-F1 + Q F1 + C F1: {:.3f} words, {:.3f} without),\n"
      "# l2 {} chosen by {}-fold cross-validation.\n",
      path, folds, buckets, iterations, margin, balance_classes ? " --balance-classes" : "",
      check_path.empty() ? std::string() : fmt::format(" --check {}", check_path), posts.size(),
      with_words ? "with words" : "the rules' features only", best_objective[1], best_objective[0],
      train_options.l2, folds);

  // The independent check set: a language's sentiment stays with the rules when the trained
  // model does worse on it (its posts are never fitted on; they only veto).
  bool veto[enrich_model::kLanguages] = {};
  if (!check.empty()) {
    Tally with_model[enrich_model::kLanguages], with_rules[enrich_model::kLanguages];
    for (const Labelled& post : check) {
      with_model[post.features.language].Add(post.sentiment, post.intents, Predict(model, post.features));
      with_rules[post.features.language].Add(post.sentiment, post.intents,
                                             Prediction{post.rule_sentiment, post.rule_intents});
    }
    for (int language = 1; language < enrich_model::kLanguages; ++language) {
      if (with_model[language].n < 50) continue;
      const double model_f1 = with_model[language].Figure(0), rules_f1 = with_rules[language].Figure(0);
      veto[language] = model_f1 < rules_f1;
      report += fmt::format("# check {} {} (n {}): sentiment macro-F1 model {:.3f} / rules {:.3f}{}\n",
                            check_path, kLanguageNames[language], with_model[language].n, model_f1,
                            rules_f1, veto[language] ? ": the rules keep the sentiment" : "");
    }
  }

  // Per language and head: the model where it beat the rules on the held-out folds. First the
  // sentiment; the rules' complaint and praise then follow the sentiment chosen, and each intent
  // head is compared with that.
  report += "# Held-out figures per rule language (model / rules on the same posts; the rules were\n"
            "# tuned on them), and who decides:\n";
  const std::vector<Prediction>& held_out = best[with_words].held_out;
  for (int language = 1; language < enrich_model::kLanguages; ++language) {
    Tally model_tally, rules_tally;
    for (size_t p = 0; p < posts.size(); ++p) {
      if (posts[p].features.language != language) continue;
      model_tally.Add(posts[p].sentiment, posts[p].intents, held_out[p]);
      rules_tally.Add(posts[p].sentiment, posts[p].intents,
                      Prediction{posts[p].rule_sentiment, posts[p].rule_intents});
    }
    uint32_t uses = 0;
    std::string row = fmt::format("#   {} (n {}):", kLanguageNames[language], model_tally.n);
    const double sentiment_model = model_tally.Figure(0), sentiment_rules = rules_tally.Figure(0);
    const bool use_sentiment = sentiment_model > sentiment_rules + margin && !veto[language];
    if (use_sentiment) uses |= enrich_model::kUseSentiment;
    row += fmt::format(" sentiment {:.3f}/{:.3f}{}", sentiment_model, sentiment_rules,
                       use_sentiment ? " model" : veto[language] ? " vetoed" : "");
    // The rules' intents as they come out beside the chosen sentiment.
    Tally baseline;
    for (size_t p = 0; p < posts.size(); ++p) {
      if (posts[p].features.language != language) continue;
      Prediction rules{posts[p].rule_sentiment, posts[p].rule_intents};
      if (use_sentiment) {
        rules.sentiment = held_out[p].sentiment;
        rules.intents = (rules.intents & ~enrich_model::kSentimentIntents) |
                        enrich_model::RuleSentimentIntents(posts[p].features, rules.sentiment);
      }
      baseline.Add(posts[p].sentiment, posts[p].intents, rules);
    }
    for (int group = 1; group < kHeadGroups; ++group) {
      const double with_model = model_tally.Figure(group), with_rules = baseline.Figure(group);
      const bool use = model_tally.Gold(group) > 0 && with_model > with_rules + margin;
      if (use) uses |= enrich_model::UseIntent(group - 1);
      row += fmt::format(" {} {:.3f}/{:.3f}{}", kHeadNames[group], with_model, with_rules,
                         use ? " model" : "");
    }
    model.set_uses(static_cast<uint8_t>(language), uses);
    report += row + "\n";
  }
  std::printf("%s", report.c_str());
  const std::string text = fmt::format(
      "// Generated by `brandpulse train-enrichment` (cli/train_enrichment_command.cc); do not edit.\n"
      "// Training data: operators/enrichment/SOURCES.md. Format: operators/enrich_model.h.\n"
      "R\"MODEL(\n{})MODEL\"\n",
      model.Serialize(report));
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) {
    std::fprintf(stderr, "brandpulse: cannot write %s\n", out_path.c_str());
    return 1;
  }
  std::printf("wrote %s (%zu bytes)\n", out_path.c_str(), text.size());
  return 0;
}

}  // namespace

void RegisterTrainEnrichmentCommand(CLI::App& app, CliCommands& commands) {
  CLI::App* command = app.add_subcommand(
      "train-enrichment",
      "Train enrichment's linear model on labelled posts and write it as a model file");
  auto path = std::make_shared<std::string>();
  auto out_path = std::make_shared<std::string>();
  auto folds = std::make_shared<int>(5);
  auto buckets = std::make_shared<uint32_t>(4096);
  auto iterations = std::make_shared<int>(300);
  auto margin = std::make_shared<double>(0.0);
  auto balance_classes = std::make_shared<bool>(false);
  auto check_path = std::make_shared<std::string>();
  command->add_option("file", *path, "labelled posts: lang<TAB>sentiment<TAB>intents<TAB>text")->required();
  command->add_option("--out", *out_path, "the model file to write (operators/enrichment/model_v1.inc)")->required();
  command->add_option("--folds", *folds, "cross-validation folds (every k-th post of each language)");
  command->add_option("--buckets", *buckets, "hashed word features: a power of two");
  command->add_option("--iterations", *iterations, "full-batch training steps");
  command->add_option("--margin", *margin,
                      "the model decides a head only when its held-out figure beats the rules' by more");
  command->add_flag("--balance-classes", *balance_classes,
                    "weigh the sentiment classes' posts alike (n / (3 × the class's posts))");
  command->add_option("--check", *check_path,
                      "labelled posts of another kind, never fitted on: a language's sentiment "
                      "stays with the rules when the model does worse on them");
  commands.push_back({command, [=] {
                        return TrainEnrichment(*path, *out_path, *folds, *buckets, *iterations,
                                               *margin, *balance_classes, *check_path);
                      }});
}

}  // namespace brandpulse
