// `brandpulse match -w WATCHLIST TEXT...`: which brands and terms match a text, where, and why a
// hit was rejected; queries are shown as trees with each node's value.
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "operators/hyperscan_match.h"
#include "operators/watchlist.h"

namespace brandpulse {
namespace {

struct MatchPostFields {
  std::string language;
  std::string author;
  std::string reply_to;
};

int Match(const std::string& watchlist_path, const std::vector<std::string>& texts,
          const MatchPostFields& fields) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> watchlist = LoadWatchlist(watchlist_path, diagnostics);
  if (!watchlist) {
    PrintDiagnostics(diagnostics);
    return 2;
  }
  watchlist->cache_directory = DefaultWatchlistCacheDirectory();
  Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(*watchlist);
  if (!compiled.ok()) {
    std::fprintf(stderr, "brandpulse: %s\n", compiled.status().ToString().c_str());
    return 1;
  }
  Result<std::unique_ptr<CompiledWatchlist::Scanner>> scanner = (*compiled)->MakeScanner();
  if (!scanner.ok()) {
    std::fprintf(stderr, "brandpulse: %s\n", scanner.status().ToString().c_str());
    return 1;
  }
  int matched_any = 0;
  for (const std::string& text : texts) {
    std::printf("text: %s\n", text.c_str());
    Post post;
    post.text = text;
    post.language = fields.language;
    post.author_handle = fields.author;
    post.reply_to_handle = fields.reply_to;
    std::vector<TermHit> hits = (*compiled)->ExplainText(text, **scanner);
    std::vector<MatchedBrand> brands;
    (*compiled)->MatchPost(post, **scanner, brands);
    std::vector<bool> explain_query((*compiled)->brand_count(), false);
    for (const TermHit& hit : hits) {
      const BrandSpec& brand = (*compiled)->brand(hit.brand_index);
      std::string where;
      if (hit.kind == TermKind::kQuery && brand.query) {
        const SourceLocation& location = brand.query->nodes[hit.query_node].location;
        where = fmt::format("  (query term at line {}:{})", location.line, location.column);
      }
      std::printf("  %-9s %-20s %-10s bytes %u..%u  \"%.*s\"%s\n",
                  hit.accepted ? "hit" : "rejected", brand.id.c_str(),
                  std::string(TermKindName(hit.kind)).c_str(), hit.begin, hit.end,
                  static_cast<int>(hit.end - hit.begin), text.data() + hit.begin, where.c_str());
      if (!hit.accepted) {
        std::printf("            (%s)\n", std::string(hit.why_rejected).c_str());
      }
      if (hit.kind == TermKind::kQuery) explain_query[hit.brand_index] = true;
    }
    for (const MatchedBrand& matched : brands) explain_query[matched.brand_index] = true;
    for (uint32_t index = 0; index < (*compiled)->brand_count(); ++index) {
      const BrandSpec& brand = (*compiled)->brand(index);
      if (!brand.query || !explain_query[index]) continue;
      std::vector<bool> values = (*compiled)->ExplainQuery(index, post, **scanner);
      std::printf("  query of %s: %s\n", brand.id.c_str(),
                  values[brand.query->root] ? "true" : "false");
      std::printf("%s", QueryTreeText(*brand.query, values, 2).c_str());
    }
    if (brands.empty()) std::printf("  no brand matched\n");
    for (const MatchedBrand& matched : brands) {
      const BrandSpec& brand = (*compiled)->brand(matched.brand_index);
      std::printf("  => %s (%s)%s\n", brand.name.c_str(), brand.id.c_str(),
                  (*compiled)->IsOwnHandle(matched.brand_index, fields.author)
                      ? " [own post: not counted as a mention]"
                      : "");
      matched_any = 1;
    }
  }
  return matched_any ? 0 : 3;
}

struct MatchArgs {
  std::string watchlist_path;
  std::vector<std::string> texts;
  MatchPostFields fields;
  std::string input;   // --input: a JSON lines file of posts instead of texts
  std::string format = "auto";
  bool jsonl = false;  // --jsonl: one brandpulse.mention/1 line per matched or excluded post
};

}  // namespace

void RegisterMatchCommand(CLI::App& app, CliCommands& commands) {
  auto args = std::make_shared<MatchArgs>();  // shared: the callback outlives this call
  CLI::App* command =
      app.add_subcommand("match", "Show which brands and terms match a text, and where.");
  command->add_option("--watchlist,-w", args->watchlist_path, "Watchlist YAML file")->required();
  command->add_option("text", args->texts, "Texts to match");
  command->add_option("--input,-i", args->input,
                      "A JSON lines file of posts to match instead of texts (with --jsonl)");
  command->add_option("--format,-f", args->format,
                      "Format of --input: auto | twitter-v1 | twitter-v2 | jetstream | mastodon")
      ->capture_default_str();
  command->add_flag("--jsonl", args->jsonl,
                    "Write each matched or excluded post of --input as one brandpulse.mention/1 "
                    "JSON line (docs/schemas.md): id, brands, terms with positions, own post, "
                    "which exclusion removed which brand");
  command->add_option("--lang", args->fields.language, "The post's language (for lang:)");
  command->add_option("--author", args->fields.author, "The post's author handle (for author:)");
  command->add_option("--reply-to", args->fields.reply_to, "The handle replied to (for reply:)");
  commands.push_back(CliCommand{
      command, [args] {
        if (args->jsonl || !args->input.empty()) {
          if (!args->jsonl || args->input.empty() || !args->texts.empty()) {
            std::fprintf(stderr, "brandpulse match: --jsonl goes with --input FILE (and no texts)\n");
            return 2;
          }
          return WriteMentionLines(args->watchlist_path, args->input, args->format);
        }
        if (args->texts.empty()) {
          std::fprintf(stderr, "brandpulse match: give texts to match, or --input FILE --jsonl\n");
          return 2;
        }
        return Match(args->watchlist_path, args->texts, args->fields);
      }});
}

}  // namespace brandpulse
