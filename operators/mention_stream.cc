#include "operators/mention_stream.h"

#include <algorithm>

#include <fmt/format.h>

namespace brandpulse {

void MentionStream::AppendBatch(const Batch& batch, const BrandDirectory& brands,
                                std::vector<OutboxEntry>& out) {
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
    brands_.clear();
    terms_.clear();
    terms_.reserve(end - at);  // spans below point into it: no reallocation after this
    for (size_t i = at; i < end; ++i) {
      const Mention& mention = batch.mentions[order_[i]];
      if (mention.brand_index >= brands.brand_count()) continue;
      const BrandInfo info = brands.brand_info(mention.brand_index);
      MentionBrand brand;
      brand.id = info.id;
      brand.name = info.name;
      brand.group = info.group;
      brand.own_post = mention.own_post;
      if (mention.first_hit_end > mention.first_hit_begin && mention.first_hit_end <= post.text.size()) {
        terms_.push_back(MentionTerm{
            post.text.substr(mention.first_hit_begin, mention.first_hit_end - mention.first_hit_begin),
            "term", mention.first_hit_begin, mention.first_hit_end});
        brand.terms = std::span<const MentionTerm>(&terms_.back(), 1);
      }
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
    record.ingest_time_ms = batch.ingest_time_ms;
    writer_.Append(record, entry.payload);
    out.push_back(std::move(entry));
  }
}

}  // namespace brandpulse
