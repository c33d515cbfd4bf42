#include "operators/mention_stream.h"

#include <algorithm>

#include <fmt/format.h>

#include "operators/watchlist_brands.h"

namespace brandpulse {

bool EvaluateQueryWithout(const Query& query, const std::vector<bool>& values, uint32_t forced) {
  std::vector<bool> value(values.begin(), values.end());
  for (uint32_t index = 0; index < query.nodes.size(); ++index) {
    const QueryNode& node = query.nodes[index];
    if (index == forced) {
      value[index] = true;
      continue;
    }
    switch (node.op) {
      case QueryOp::kNot:
        value[index] = !value[node.children[0]];
        break;
      case QueryOp::kAnd:
        value[index] = std::all_of(node.children.begin(), node.children.end(),
                                   [&](uint32_t child) { return value[child]; });
        break;
      case QueryOp::kOr:
        value[index] = std::any_of(node.children.begin(), node.children.end(),
                                   [&](uint32_t child) { return value[child]; });
        break;
      default:
        break;  // terms, fields and NEAR keep their values
    }
  }
  return value[query.root];
}

void MentionStream::Prepare(const std::shared_ptr<const CompiledWatchlist>& watchlist) {
  if (watchlist == watchlist_) return;
  scanner_.reset();  // belongs to the previous watchlist
  watchlist_ = watchlist;
  explain_.assign(watchlist->brand_count(), {});
  for (uint32_t b = 0; b < watchlist->brand_count(); ++b) {
    const BrandSpec& brand = watchlist->brand(b);
    BrandExplain& explain = explain_[b];
    if (brand.query) {
      explain.negated.assign(brand.query->nodes.size(), false);
      for (uint32_t index = 0; index < brand.query->nodes.size(); ++index) {
        const QueryNode& node = brand.query->nodes[index];
        if (node.op != QueryOp::kNot) continue;
        std::vector<uint32_t> below = {node.children[0]};
        while (!below.empty()) {
          const uint32_t child = below.back();
          below.pop_back();
          explain.negated[child] = true;
          for (uint32_t grandchild : brand.query->nodes[child].children) below.push_back(grandchild);
        }
        explain.not_nodes.push_back(index);
        explain.not_labels.push_back(fmt::format("{} (line {}:{})",
                                                 FormatQueryNode(*brand.query, index),
                                                 node.location.line, node.location.column));
      }
    }
    for (const std::string& exclusion : brand.exclusions) {
      explain.exclusion_labels.push_back(fmt::format("exclude '{}'", exclusion));
    }
  }
  Result<std::unique_ptr<CompiledWatchlist::Scanner>> scanner = watchlist->MakeScanner();
  if (scanner.ok()) scanner_ = std::move(scanner).value();  // else: first hits only
}

void MentionStream::Explain(const Post& post, const std::vector<uint32_t>& mentioned) {
  const CompiledWatchlist& watchlist = *watchlist_;
  hits_ = watchlist.ExplainText(post.text, *scanner_);
  // Every accepted hit of each mentioned brand, except its exclusions and hits under a NOT.
  terms_.clear();
  term_ranges_.clear();
  for (uint32_t b : mentioned) {
    const size_t first = terms_.size();
    for (const TermHit& hit : hits_) {
      if (!hit.accepted || hit.brand_index != b || hit.kind == TermKind::kExclusion) continue;
      if (hit.kind == TermKind::kQuery && b < explain_.size() &&
          hit.query_node < explain_[b].negated.size() && explain_[b].negated[hit.query_node]) {
        continue;
      }
      terms_.push_back(MentionTerm{hit.term, TermKindName(hit.kind), hit.begin, hit.end});
    }
    term_ranges_.emplace_back(first, terms_.size());
  }
  // Brands with an accepted hit that are not mentioned: what removed them.
  excluded_.clear();
  seen_.assign(watchlist.brand_count(), 0);
  for (const TermHit& hit : hits_) {
    if (hit.accepted) seen_[hit.brand_index] |= hit.kind == TermKind::kExclusion ? 2 : 1;
  }
  for (uint32_t b = 0; b < seen_.size(); ++b) {
    if (seen_[b] == 0 || std::find(mentioned.begin(), mentioned.end(), b) != mentioned.end()) continue;
    const BrandSpec& brand = watchlist.brand(b);
    const BrandExplain& explain = explain_[b];
    bool plain_hit = false;
    for (const TermHit& hit : hits_) {
      plain_hit = plain_hit || (hit.accepted && hit.brand_index == b &&
                                hit.kind != TermKind::kExclusion && hit.kind != TermKind::kQuery);
    }
    bool query_true = false;
    if (brand.query) {
      const std::vector<bool> values = watchlist.ExplainQuery(b, post, *scanner_);
      query_true = values[brand.query->root];
      for (size_t i = 0; i < explain.not_nodes.size(); ++i) {
        if (!query_true && EvaluateQueryWithout(*brand.query, values, explain.not_nodes[i])) {
          excluded_.push_back(MentionExclusion{brand.id, explain.not_labels[i]});
        }
      }
    }
    if ((seen_[b] & 2) == 0 || !(plain_hit || query_true)) continue;
    for (size_t i = 0; i < brand.exclusions.size(); ++i) {
      for (const TermHit& hit : hits_) {
        if (hit.accepted && hit.brand_index == b && hit.kind == TermKind::kExclusion &&
            hit.term == brand.exclusions[i]) {
          excluded_.push_back(MentionExclusion{brand.id, explain.exclusion_labels[i]});
          break;
        }
      }
    }
  }
}

void MentionStream::AppendBatch(const Batch& batch, const BrandDirectory& brands,
                                std::vector<OutboxEntry>& out) {
  const auto* watchlist = dynamic_cast<const WatchlistBrands*>(&brands);
  if (watchlist != nullptr && watchlist->compiled()) Prepare(watchlist->compiled());
  const bool explaining = watchlist != nullptr && scanner_ != nullptr &&
                          watchlist->compiled() == watchlist_;
  // One record per post: its mentions in post order (match appends a post's mentions together;
  // the stable sort keeps that and makes it so whatever the transform chain did).
  order_.clear();
  for (uint32_t i = 0; i < batch.mentions.size(); ++i) order_.push_back(i);
  std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
    return batch.mentions[a].post_index < batch.mentions[b].post_index;
  });
  size_t at = 0;
  while (at < order_.size()) {
    const uint32_t post_index = batch.mentions[order_[at]].post_index;
    size_t end = at;
    while (end < order_.size() && batch.mentions[order_[end]].post_index == post_index) ++end;
    const Post& post = batch.posts[post_index];
    mentioned_.clear();
    for (size_t i = at; i < end; ++i) {
      const Mention& mention = batch.mentions[order_[i]];
      if (mention.brand_index < brands.brand_count()) mentioned_.push_back(mention.brand_index);
    }
    excluded_.clear();
    if (explaining) {
      Explain(post, mentioned_);
    } else {
      // Without the watchlist: the first hit of each mention, as found in the text.
      terms_.clear();
      term_ranges_.clear();
      terms_.reserve(end - at);
      for (size_t i = at; i < end; ++i) {
        const Mention& mention = batch.mentions[order_[i]];
        if (mention.brand_index >= brands.brand_count()) continue;
        const size_t first = terms_.size();
        if (mention.first_hit_end > mention.first_hit_begin && mention.first_hit_end <= post.text.size()) {
          terms_.push_back(MentionTerm{
              post.text.substr(mention.first_hit_begin, mention.first_hit_end - mention.first_hit_begin),
              "term", mention.first_hit_begin, mention.first_hit_end});
        }
        term_ranges_.emplace_back(first, terms_.size());
      }
    }
    brands_.clear();
    size_t k = 0;
    for (size_t i = at; i < end; ++i) {
      const Mention& mention = batch.mentions[order_[i]];
      if (mention.brand_index >= brands.brand_count()) continue;
      const BrandInfo info = brands.brand_info(mention.brand_index);
      MentionBrand brand;
      brand.id = info.id;
      brand.name = info.name;
      brand.group = info.group;
      brand.own_post = mention.own_post;
      const auto [first, last] = term_ranges_[k++];
      brand.terms = std::span<const MentionTerm>(terms_.data() + first, last - first);
      // Mention::sentiment 1 negative, 2 neutral, 3 positive → -1, 0, +1.
      if (mention.sentiment != 0) brand.sentiment = static_cast<int>(mention.sentiment) - 2;
      brands_.push_back(brand);
    }
    at = end;
    if (brands_.empty()) continue;
    OutboxEntry entry;
    entry.id = post.id.empty()
                   ? fmt::format("{}:p{}r{}", PlatformName(post.platform), batch.partition,
                                 batch.records[post.record_index].end_position)
                   : fmt::format("{}:{}", PlatformName(post.platform), post.id);
    MentionRecord record;
    record.post = &post;
    record.brands = brands_;
    record.excluded = excluded_;
    record.ingest_time_ms = batch.ingest_time_ms;
    writer_.Append(record, entry.payload);
    out.push_back(std::move(entry));
  }
}

}  // namespace brandpulse
