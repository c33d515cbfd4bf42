// The mentions stream (`sinks: {mentions: ...}`): every post that names a brand, as one
// brandpulse.mention/1 record (operators/mention_json.h, docs/schemas.md) — its brands, the first
// hit of each as found in the text, the own-post flag, the sentiment towards each brand and the
// post's enrichment fields when enrichment is on. The runner puts the records in each mentions
// sink's outbox in the epoch's commit (engine/sink.h), so file, webhook and kafka sinks deliver
// them like alerts: at least once, in order, a slow receiver holding back only its own outbox.
//
// Thread safety: a MentionStream is used by the coordinator only.
#pragma once

#include <string>
#include <vector>

#include "engine/batch.h"
#include "engine/brand_directory.h"
#include "engine/sink.h"
#include "operators/mention_json.h"

namespace brandpulse {

class MentionStream {
 public:
  // Appends one entry per post of `batch` with at least one mention. The entry id — the outbox
  // key after the sink's name, and the webhook's Idempotency-Key — is "<platform>:<post id>"
  // (the source position when the post has no id), the same after a restart.
  void AppendBatch(const Batch& batch, const BrandDirectory& brands, std::vector<OutboxEntry>& out);

 private:
  MentionJsonWriter writer_;
  // Reused per post.
  std::vector<MentionBrand> brands_;
  std::vector<MentionTerm> terms_;
  std::vector<uint32_t> order_;  // mention indexes by post
};

}  // namespace brandpulse
