// `brandpulse backtest`: runs a watchlist over a recorded firehose (JSON lines in any preset
// format) and prints, per brand, how many posts matched, a sample of them, and how many posts
// each exclusion removed: each NOT branch of the query, and each `exclude:` entry.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/progress.h"
#include "operators/file_source.h"
#include "operators/hyperscan_match.h"
#include "operators/json_decode.h"
#include "operators/mention_json.h"
#include "operators/mention_stream.h"  // EvaluateQueryWithout, shared with the mentions stream
#include "operators/watchlist.h"

namespace brandpulse {
namespace {

struct BacktestOptions {
  std::string watchlist;
  std::string input;
  std::string format = "auto";
  size_t sample = 3;
  std::string cache_directory;
  std::string jsonl;  // --jsonl: one brandpulse.mention/1 object per post ("-" = stdout)
  bool quiet = false;  // no progress line (docs/operations.md)
};

struct ExclusionCount {
  std::string label;  // "NOT (pie OR juice) at 5:14" or "exclude 'ice cream'"
  uint64_t removed = 0;
};

// How many matched posts an entry of the brand brought, with a sample: a bad term shows itself
// in one run.
struct TermTally {
  std::string label;  // "term 'apple'", "query term 'ice'"
  uint64_t posts = 0;
  std::string sample;
};

struct BrandTally {
  std::vector<TermTally> terms;
  uint64_t matches = 0;
  uint64_t own_posts = 0;
  std::vector<std::string> samples;
  std::vector<ExclusionCount> exclusions;
  // Posts where the brand's name (its id or name: written as a query term) was found but the
  // query was false and no exclusion removed it: what the query's context (NEAR, AND, lang:)
  // held back, the recall side of a narrowed ordinary word.
  uint64_t held_back = 0;
  std::vector<std::string> held_back_samples;
  std::vector<bool> name_node;  // query terms that are the brand's id or name ("apple")
  std::vector<uint32_t> not_nodes;  // query nodes, in the order of exclusions
  std::vector<bool> negated;        // query nodes under a NOT: their hits are not the brand's terms
};

std::string OneLine(std::string_view text, size_t limit) {
  std::string out;
  size_t characters = 0;
  for (char c : text) {
    if ((static_cast<uint8_t>(c) & 0xC0) != 0x80 && ++characters > limit) {
      out += "…";
      break;
    }
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  return out;
}

std::optional<DecodeFormat> FormatNamed(std::string_view name) {
  if (name == "twitter-v1") return DecodeFormat::kTwitterV1;
  if (name == "twitter-v2") return DecodeFormat::kTwitterV2;
  if (name == "jetstream") return DecodeFormat::kJetstream;
  if (name == "mastodon") return DecodeFormat::kMastodon;
  return std::nullopt;
}

// Decodes `batch` (records only) with `format` into a copy and counts the posts.
size_t PostsDecoded(const BacktestOptions& options, DecodeFormat format, Batch& batch) {
  DecodeSpec spec;
  spec.format = format;
  Result<std::unique_ptr<Transform>> decode = MakeJsonDecode(spec);
  if (!decode.ok()) return 0;
  std::unique_ptr<TransformState> state = (*decode)->MakeState().value();
  Batch trial;
  for (uint32_t i = 0; i < batch.records.size(); ++i) {
    trial.AddRecord(batch.RecordBytes(i), batch.records[i].end_position);
  }
  trial.PadInput();
  if (!(*decode)->Process(trial, *state).ok()) return 0;
  (void)options;
  return trial.posts.size();
}

int RunBacktest(const BacktestOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = LoadWatchlist(options.watchlist, diagnostics);
  if (!spec) {
    PrintDiagnostics(diagnostics);
    return 2;
  }
  WatchlistCacheOptions cache{options.cache_directory == "none"
                                  ? std::string()
                                  : options.cache_directory.empty()
                                        ? CompiledWatchlist::DefaultCacheDirectory()
                                        : options.cache_directory};
  WatchlistBuildInfo build;
  Result<std::shared_ptr<const CompiledWatchlist>> compiled =
      CompiledWatchlist::Make(*spec, cache, &build);
  if (!compiled.ok()) {
    std::fprintf(stderr, "brandpulse backtest: %s\n", compiled.status().ToString().c_str());
    return 1;
  }
  const CompiledWatchlist& watchlist = **compiled;
  Result<std::unique_ptr<CompiledWatchlist::Scanner>> scanner = watchlist.MakeScanner();
  if (!scanner.ok()) {
    std::fprintf(stderr, "brandpulse backtest: %s\n", scanner.status().ToString().c_str());
    return 1;
  }
  Result<std::unique_ptr<Source>> source = MakeJsonLinesFileSource(options.input, false);
  if (!source.ok()) {
    std::fprintf(stderr, "brandpulse backtest: %s\n", source.status().ToString().c_str());
    return 1;
  }

  std::vector<BrandTally> tallies(watchlist.brand_count());
  for (uint32_t b = 0; b < watchlist.brand_count(); ++b) {
    const BrandSpec& brand = watchlist.brand(b);
    if (brand.query) {
      tallies[b].negated.assign(brand.query->nodes.size(), false);
      tallies[b].name_node.assign(brand.query->nodes.size(), false);
      auto lowercased = [](std::string text) {
        for (char& c : text) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
        return text;
      };
      for (uint32_t index = 0; index < brand.query->nodes.size(); ++index) {
        const QueryNode& node = brand.query->nodes[index];
        tallies[b].name_node[index] =
            node.op == QueryOp::kTerm && (lowercased(node.text) == lowercased(brand.name) ||
                                          lowercased(node.text) == brand.id);
      }
      for (uint32_t index = 0; index < brand.query->nodes.size(); ++index) {
        const QueryNode& node = brand.query->nodes[index];
        if (node.op != QueryOp::kNot) continue;
        std::vector<uint32_t> below = {node.children[0]};
        while (!below.empty()) {
          uint32_t child = below.back();
          below.pop_back();
          tallies[b].negated[child] = true;
          for (uint32_t grandchild : brand.query->nodes[child].children) below.push_back(grandchild);
        }
        tallies[b].exclusions.push_back(
            ExclusionCount{fmt::format("{} (line {}:{})", FormatQueryNode(*brand.query, index),
                                       node.location.line, node.location.column)});
        tallies[b].not_nodes.push_back(index);
      }
    }
    for (const std::string& exclusion : brand.exclusions) {
      tallies[b].exclusions.push_back(ExclusionCount{fmt::format("exclude '{}'", exclusion)});
    }
  }

  std::optional<DecodeFormat> format = FormatNamed(options.format);
  if (!format && options.format != "auto") {
    std::fprintf(stderr,
                 "brandpulse backtest: unknown --format '%s' (twitter-v1, twitter-v2, jetstream, "
                 "mastodon or auto)\n",
                 options.format.c_str());
    return 2;
  }
  std::FILE* jsonl = nullptr;
  if (!options.jsonl.empty()) {
    jsonl = options.jsonl == "-" ? stdout : std::fopen(options.jsonl.c_str(), "w");
    if (jsonl == nullptr) {
      std::fprintf(stderr, "brandpulse backtest: cannot write %s\n", options.jsonl.c_str());
      return 1;
    }
  }
  const MentionJsonWriter mention_writer;
  std::string line;
  std::vector<MentionTerm> post_terms;
  std::vector<MentionBrand> post_brands;
  std::vector<MentionExclusion> post_excluded;
  std::vector<std::string> exclusion_labels;  // owned text of post_excluded's views
  std::vector<uint8_t> term_seen;  // per (brand, term) tally: counted once per post
  std::vector<std::pair<size_t, size_t>> term_ranges;  // per matched brand: its post_terms
  std::unique_ptr<Transform> decode;
  std::unique_ptr<TransformState> decode_state;
  uint64_t records = 0;
  uint64_t posts = 0;
  uint64_t dead_letters = 0;
  Batch batch;
  std::vector<MatchedBrand> matched;
  std::vector<uint8_t> excluded_by(watchlist.brand_count(), 0);
  ProgressLine progress(stderr, options.quiet, "backtest");
  ProgressFigures progress_figures;
  progress_figures.total = FileSizeOrZero(options.input);
  progress_figures.show_alerts = false;
  while (true) {
    batch.Reset();
    Result<SourceRead> read = (*source)->Fill(batch, 2048);
    if (!read.ok()) {
      std::fprintf(stderr, "brandpulse backtest: %s\n", read.status().ToString().c_str());
      return 1;
    }
    if (!format) {  // auto: the preset that decodes most of the first batch
      size_t best = 0;
      format = DecodeFormat::kTwitterV2;
      for (DecodeFormat candidate : {DecodeFormat::kTwitterV2, DecodeFormat::kTwitterV1,
                                     DecodeFormat::kJetstream, DecodeFormat::kMastodon}) {
        size_t decoded = PostsDecoded(options, candidate, batch);
        if (decoded > best) {
          best = decoded;
          format = candidate;
        }
      }
    }
    if (decode == nullptr) {
      DecodeSpec decode_spec;
      decode_spec.format = *format;
      Result<std::unique_ptr<Transform>> made = MakeJsonDecode(decode_spec);
      if (!made.ok()) {
        std::fprintf(stderr, "brandpulse backtest: %s\n", made.status().ToString().c_str());
        return 1;
      }
      decode = std::move(made).value();
      decode_state = decode->MakeState().value();
    }
    if (Status status = decode->Process(batch, *decode_state); !status.ok()) {
      std::fprintf(stderr, "brandpulse backtest: %s\n", status.ToString().c_str());
      return 1;
    }
    records += batch.records.size();
    dead_letters += batch.dead_letters.size();
    for (const Post& post : batch.posts) {
      ++posts;
      matched.clear();
      watchlist.MatchPost(post, **scanner, matched);
      for (const MatchedBrand& brand : matched) {
        BrandTally& tally = tallies[brand.brand_index];
        ++tally.matches;
        ++progress_figures.matches;
        if (!post.author_handle.empty() &&
            watchlist.IsOwnHandle(brand.brand_index, post.author_handle)) {
          ++tally.own_posts;
        }
        if (tally.samples.size() < options.sample) {
          tally.samples.push_back(
              fmt::format("{}{}", post.author_handle.empty() ? "" : "@" + std::string(post.author_handle) + ": ",
                          OneLine(post.text, 110)));
        }
      }
      // Exclusions: what would have matched without each one. Only brands with a hit can
      // change, so explain the text once and look at those.
      std::vector<TermHit> hits = watchlist.ExplainText(post.text, **scanner);
      post_terms.clear();
      post_brands.clear();
      post_excluded.clear();
      exclusion_labels.clear();
      // Per matched brand, each accepted entry hit: the term tallies, and the JSON line's terms.
      term_ranges.clear();
      for (const MatchedBrand& brand : matched) {
        BrandTally& tally = tallies[brand.brand_index];
        term_seen.assign(tally.terms.size(), 0);
        const size_t first_term = post_terms.size();
        for (const TermHit& hit : hits) {
          if (!hit.accepted || hit.brand_index != brand.brand_index ||
              hit.kind == TermKind::kExclusion ||
              (hit.kind == TermKind::kQuery && tally.negated[hit.query_node])) {
            continue;
          }
          post_terms.push_back(MentionTerm{hit.term, TermKindName(hit.kind), hit.begin, hit.end});
          const std::string label = fmt::format("{} '{}'", TermKindName(hit.kind), hit.term);
          size_t index = 0;
          while (index < tally.terms.size() && tally.terms[index].label != label) ++index;
          if (index == tally.terms.size()) {
            tally.terms.push_back(TermTally{label});
            term_seen.push_back(0);
          }
          if (term_seen[index]++ == 0) {
            ++tally.terms[index].posts;
            if (tally.terms[index].sample.empty()) tally.terms[index].sample = OneLine(post.text, 100);
          }
        }
        term_ranges.emplace_back(first_term, post_terms.size());
      }
      std::fill(excluded_by.begin(), excluded_by.end(), 0);
      std::vector<uint32_t> candidates;
      for (const TermHit& hit : hits) {
        if (!hit.accepted) continue;
        if (excluded_by[hit.brand_index] == 0) candidates.push_back(hit.brand_index);
        excluded_by[hit.brand_index] |= hit.kind == TermKind::kExclusion ? 2 : 1;
      }
      for (uint32_t b : candidates) {
        if (std::any_of(matched.begin(), matched.end(),
                        [&](const MatchedBrand& m) { return m.brand_index == b; })) {
          continue;
        }
        const BrandSpec& brand = watchlist.brand(b);
        BrandTally& tally = tallies[b];
        bool plain_hit = false;
        for (const TermHit& hit : hits) {
          plain_hit = plain_hit || (hit.accepted && hit.brand_index == b &&
                                    hit.kind != TermKind::kExclusion && hit.kind != TermKind::kQuery);
        }
        bool query_true = false;
        std::vector<bool> values;
        if (brand.query) {
          values = watchlist.ExplainQuery(b, post, **scanner);
          query_true = values[brand.query->root];
          for (size_t i = 0; i < tally.not_nodes.size(); ++i) {
            if (!query_true && EvaluateQueryWithout(*brand.query, values, tally.not_nodes[i])) {
              ++tally.exclusions[i].removed;
            }
          }
        }
        const size_t excluded_before = post_excluded.size();
        if (brand.query) {
          for (size_t i = 0; i < tally.not_nodes.size(); ++i) {
            if (!query_true && EvaluateQueryWithout(*brand.query, values, tally.not_nodes[i])) {
              exclusion_labels.push_back(tally.exclusions[i].label);
              post_excluded.push_back(MentionExclusion{brand.id, {}});
            }
          }
        }
        if (brand.query && !query_true && !plain_hit && post_excluded.size() == excluded_before &&
            (excluded_by[b] & 2) == 0 &&
            std::any_of(hits.begin(), hits.end(), [&](const TermHit& hit) {
              return hit.accepted && hit.brand_index == b && hit.kind == TermKind::kQuery &&
                     !tally.negated[hit.query_node] && tally.name_node[hit.query_node];
            })) {
          ++tally.held_back;
          if (tally.held_back_samples.size() < options.sample) {
            tally.held_back_samples.push_back(OneLine(post.text, 100));
          }
        }
        if ((excluded_by[b] & 2) != 0 && (plain_hit || query_true)) {
          for (size_t i = tally.not_nodes.size(); i < tally.exclusions.size(); ++i) {
            const std::string& exclusion = brand.exclusions[i - tally.not_nodes.size()];
            for (const TermHit& hit : hits) {
              if (hit.accepted && hit.brand_index == b && hit.kind == TermKind::kExclusion &&
                  hit.term == exclusion) {
                ++tally.exclusions[i].removed;
                exclusion_labels.push_back(tally.exclusions[i].label);
                post_excluded.push_back(MentionExclusion{brand.id, {}});
                break;
              }
            }
          }
        }
      }
      if (jsonl != nullptr && (!matched.empty() || !post_excluded.empty())) {
        for (size_t k = 0; k < matched.size(); ++k) {
          const MatchedBrand& brand = matched[k];
          const BrandSpec& spec_brand = watchlist.brand(brand.brand_index);
          MentionBrand mention;
          mention.id = spec_brand.id;
          mention.name = spec_brand.name;
          mention.group = spec_brand.group;
          mention.own_post = (!post.author_handle.empty() &&
                              watchlist.IsOwnHandle(brand.brand_index, post.author_handle)) ||
                             (post.author_id.starts_with("did:") &&
                              watchlist.IsOwnHandle(brand.brand_index, post.author_id));
          mention.terms = std::span<const MentionTerm>(post_terms.data() + term_ranges[k].first,
                                                       term_ranges[k].second - term_ranges[k].first);
          post_brands.push_back(mention);
        }
        for (size_t i = 0; i < post_excluded.size(); ++i) {
          post_excluded[i].exclusion = exclusion_labels[i];
        }
        line.clear();
        MentionRecord record;
        record.post = &post;
        record.brands = post_brands;
        record.excluded = post_excluded;
        mention_writer.Append(record, line);
        line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), jsonl);
      }
    }
    if (progress.enabled() && !batch.records.empty()) {
      progress_figures.records = records;
      progress_figures.position = batch.records.back().end_position;
      progress_figures.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      progress.Update(progress_figures);
    }
    if (*read == SourceRead::kEndOfInput) break;
  }
  if (jsonl != nullptr && jsonl != stdout) std::fclose(jsonl);
  progress.Finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (jsonl == stdout) return 0;  // the JSON lines are the output

  std::printf("backtest of %s over %s (%s)\n", options.watchlist.c_str(), options.input.c_str(),
              std::string(DecodeFormatName(format.value_or(DecodeFormat::kTwitterV2))).c_str());
  std::printf("records %s   posts %s   dead letters %s   %.2f s   database %s (%s patterns, %s)\n\n",
              Grouped(records).c_str(), Grouped(posts).c_str(), Grouped(dead_letters).c_str(),
              seconds, build.loaded_from_cache ? "from cache" : "compiled",
              Grouped(watchlist.pattern_count()).c_str(),
              fmt::format("{:.1f} KB", watchlist.database_bytes() / 1024.0).c_str());
  for (uint32_t b = 0; b < watchlist.brand_count(); ++b) {
    const BrandSpec& brand = watchlist.brand(b);
    const BrandTally& tally = tallies[b];
    std::printf("%s (%s): %s matches (%.2f%% of posts)%s\n", brand.name.c_str(), brand.id.c_str(),
                Grouped(tally.matches).c_str(),
                posts > 0 ? 100.0 * static_cast<double>(tally.matches) / posts : 0.0,
                tally.own_posts > 0
                    ? fmt::format(", {} own posts", Grouped(tally.own_posts)).c_str()
                    : "");
    for (const std::string& sample : tally.samples) std::printf("    sample: %s\n", sample.c_str());
    for (const ExclusionCount& exclusion : tally.exclusions) {
      const uint64_t would_match = tally.matches + exclusion.removed;
      std::printf("    removed %s (%.1f%% of %s that would match without it) by %s\n",
                  Grouped(exclusion.removed).c_str(),
                  would_match > 0 ? 100.0 * static_cast<double>(exclusion.removed) / would_match
                                  : 0.0,
                  Grouped(would_match).c_str(), exclusion.label.c_str());
    }
    if (tally.held_back > 0) {
      std::printf("    held back %s posts that hold the name without the query's context (check "
                  "them for missed mentions):\n",
                  Grouped(tally.held_back).c_str());
      for (const std::string& sample : tally.held_back_samples) {
        std::printf("      held back: %s\n", sample.c_str());
      }
    }
    // What each entry brought: a term that is an ordinary word shows up here with a sample.
    std::vector<const TermTally*> by_posts;
    for (const TermTally& term : tally.terms) by_posts.push_back(&term);
    std::stable_sort(by_posts.begin(), by_posts.end(),
                     [](const TermTally* a, const TermTally* b) { return a->posts > b->posts; });
    for (const TermTally* term : by_posts) {
      std::printf("    %s: %s matched posts, e.g. %s\n", term->label.c_str(),
                  Grouped(term->posts).c_str(), term->sample.c_str());
    }
  }
  return 0;
}

}  // namespace

int WriteMentionLines(const std::string& watchlist, const std::string& input,
                      const std::string& format) {
  BacktestOptions options;
  options.watchlist = watchlist;
  options.input = input;
  options.format = format;
  options.jsonl = "-";
  options.quiet = true;
  return RunBacktest(options);
}

void RegisterBacktestCommand(CLI::App& app, CliCommands& commands) {
  auto options = std::make_shared<BacktestOptions>();  // shared: the callback outlives this call
  CLI::App* command = app.add_subcommand(
      "backtest",
      "Run a watchlist over a recorded firehose: matches, samples and what each exclusion removed.");
  command->add_option("--watchlist,-w", options->watchlist, "Watchlist YAML file")->required();
  command->add_option("--input,-i", options->input, "JSON lines file of posts")->required();
  command->add_flag("--quiet,-q", options->quiet, "No progress line (there is none when stderr is not a terminal)");
  command->add_option("--sample,-n", options->sample, "Matched posts to show per brand")
      ->capture_default_str();
  command->add_option("--format,-f", options->format,
                      "auto | twitter-v1 | twitter-v2 | jetstream | mastodon")
      ->capture_default_str();
  command->add_option("--jsonl", options->jsonl,
                      "Also write each matched or excluded post as one brandpulse.mention/1 JSON "
                      "line (docs/schemas.md) to this file; '-' writes only them, to stdout");
  command->add_option("--cache-dir", options->cache_directory,
                      "Hyperscan database cache (default $XDG_CACHE_HOME/brandpulse/hyperscan; "
                      "'none' disables it)");
  commands.push_back(CliCommand{command, [options] { return RunBacktest(*options); }});
}

}  // namespace brandpulse
