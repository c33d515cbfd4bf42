// The mentions stream (`sinks: {mentions: ...}`): every post that names a brand, as one
// brandpulse.mention/1 record (operators/mention_json.h, docs/schemas.md) — its brands with every
// accepted hit of each (term as in the watchlist, its kind, byte offsets), the brands an
// exclusion removed (`excluded`: the `exclude:` entry or the query's NOT branch), the own-post
// flag, the sentiment towards each brand and the post's enrichment fields when enrichment is on.
// The batch carries only each mention's first hit, so the stream explains each matched post's
// text once more with the watchlist it was matched with (CompiledWatchlist::ExplainText, on the
// coordinator, for matched posts only); with a brand directory that is not a watchlist it falls
// back to the first hit. The runner puts the records in each mentions
// sink's outbox in the epoch's commit (engine/sink.h), so file, webhook and kafka sinks deliver
// them like alerts: at least once, in order, a slow receiver holding back only its own outbox.
//
// Thread safety: a MentionStream is used by the coordinator only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/batch.h"
#include "engine/brand_directory.h"
#include "engine/sink.h"
#include "operators/compiled_watchlist.h"
#include "operators/mention_json.h"
#include "operators/query.h"

namespace brandpulse {

// The value of `query` (node values `values`, as ExplainQuery gives them) with node `forced`
// taken as true: what the query would say without that NOT branch.
bool EvaluateQueryWithout(const Query& query, const std::vector<bool>& values, uint32_t forced);

class MentionStream {
 public:
  // Appends one entry per post of `batch` with at least one mention. The entry id — the outbox
  // key after the sink's name, and the webhook's Idempotency-Key — is "<platform>:<post id>"
  // (the source position when the post has no id), the same after a restart.
  void AppendBatch(const Batch& batch, const BrandDirectory& brands, std::vector<OutboxEntry>& out);

 private:
  // What explaining needs of one compiled watchlist, made when it changes (a reload).
  struct BrandExplain {
    std::vector<bool> negated;        // query nodes under a NOT: their hits are not the brand's
    std::vector<uint32_t> not_nodes;  // the NOT nodes
    std::vector<std::string> not_labels;
    std::vector<std::string> exclusion_labels;  // "exclude '<entry>'", by BrandSpec::exclusions
  };
  void Prepare(const std::shared_ptr<const CompiledWatchlist>& watchlist);
  // Fills terms_/brands_ ranges and excluded_ for one post from the explained hits.
  void Explain(const Post& post, const std::vector<uint32_t>& mentioned);

  MentionJsonWriter writer_;
  std::shared_ptr<const CompiledWatchlist> watchlist_;
  std::unique_ptr<CompiledWatchlist::Scanner> scanner_;
  std::vector<BrandExplain> explain_;
  std::vector<TermHit> hits_;
  std::vector<MentionExclusion> excluded_;
  std::vector<uint8_t> seen_;  // per brand: 1 plain hit, 2 exclusion hit (reset per post)
  // Reused per post.
  std::vector<MentionBrand> brands_;
  std::vector<MentionTerm> terms_;
  std::vector<uint32_t> order_;  // mention indexes by post
  std::vector<uint32_t> mentioned_;  // the post's mentioned brands, in mention order
  std::vector<std::pair<size_t, size_t>> term_ranges_;  // per mentioned brand: its terms_
};

}  // namespace brandpulse
