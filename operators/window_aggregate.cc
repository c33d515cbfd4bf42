#include "operators/window_aggregate.h"

#include <algorithm>
#include <array>

#include "engine/hash.h"
#include "engine/social_entities.h"
#include "engine/unicode.h"
#include "engine/window_metric_registry.h"

namespace brandpulse {
namespace {

class WindowAggregateState final : public TransformState {
 public:
  WindowDeltaMap deltas;
  PostTerms terms;
};

constexpr DimensionValue kOwnPost = (static_cast<uint64_t>(Dimension::kAuthor) << kDimensionShift) | 1;

// Common function words of the firehose's languages: a brand team wants "outage" and
// "roaming" among the co-occurring terms, not "the" and "que".
constexpr std::string_view kStopWords[] = {
    // en
    "and", "are", "but", "for", "from", "has", "have", "her", "his", "just", "not", "one", "our",
    "out", "that", "the", "their", "them", "then", "there", "they", "this", "was", "what", "when",
    "will", "with", "you", "your", "all", "can", "get", "got", "how", "its", "why", "who",
    "again", "now", "still", "why", "today", "really", "very", "some", "any", "about",
    // no
    "alle", "den", "det", "din", "ditt", "ett", "fra", "før", "han", "har", "hun", "hva", "ikke",
    "jeg", "kan", "med", "men", "mer", "meg", "min", "mitt", "noe", "når", "seg", "som", "til",
    "ved", "vil", "var", "deg", "dere", "oss", "hvorfor", "igjen", "bare", "helt", "nå", "også",
    "veldig", "enda", "aldri", "alltid",
    // es
    "como", "con", "del", "ella", "esta", "este", "esto", "las", "los", "muy", "para", "pero",
    "por", "que", "ser", "sin", "sobre", "son", "sus", "todo", "una", "uno", "unos", "más", "mas",
    "hay", "nos", "les", "qué", "hoy", "otra", "vez", "nada", "siempre", "porque", "ya",
    "también", "todavía", "nunca",
};

bool IsStopWord(std::string_view word) {
  static const std::vector<std::string_view> sorted = [] {
    std::vector<std::string_view> words(std::begin(kStopWords), std::end(kStopWords));
    std::sort(words.begin(), words.end());
    return words;
  }();
  return std::binary_search(sorted.begin(), sorted.end(), word);
}

bool TextAsks(std::string_view text) {
  return text.find('?') != std::string_view::npos ||
         text.find("\xC2\xBF") != std::string_view::npos;  // ¿
}

}  // namespace

void PostTerms::Extract(std::string_view text, bool words) {
  tokens.clear();
  if (!words && text.find('#') == std::string_view::npos &&
      text.find('$') == std::string_view::npos &&
      text.find("\xEF\xBC\x83") == std::string_view::npos) {  // ＃
    return;
  }
  // Hashtags and cashtags by twitter-text's rules (engine/social_entities.h): "#1" and "$10" are
  // not tags, "＃タグ" and "#il·lusió" are.
  entities.clear();
  ExtractSocialEntities(text, entities);
  if (!words) {
    // Only the tags (issue 17: folding and decoding the whole text to skip its words cost 981
    // instructions per mention): each one folded on its own, back to back in `folded`.
    folded.clear();
    for (const SocialEntity& entity : entities) {
      FoldCase(text.substr(entity.begin, entity.end - entity.begin), entity_folded_);
      const auto begin = static_cast<uint32_t>(folded.size());
      folded.append(entity_folded_);
      tokens.push_back(Token{begin, static_cast<uint32_t>(folded.size()), true});
    }
    return;
  }
  // Offsets in `folded` are those in `text`.
  FoldCase(text, folded);
  std::string_view view = folded;
  size_t position = 0;
  size_t next_entity = 0;
  bool in_url = false;  // from "://" back to the last space, up to the next space
  while (position < view.size()) {
    if (next_entity < entities.size() && position >= entities[next_entity].begin) {
      const SocialEntity& entity = entities[next_entity++];
      tokens.push_back(Token{entity.begin, entity.end, true});
      position = std::max<size_t>(position, entity.end);
      continue;
    }
    DecodedCodePoint point = DecodeCodePointAt(view, position);
    if (!IsWordCodePoint(point.code_point)) {
      if (point.code_point == ' ' || point.code_point == '\n' || point.code_point == '\t') {
        in_url = false;
      }
      position += point.length;
      continue;
    }
    size_t begin = position;
    size_t characters = 0;
    bool digits_only = true;
    while (position < view.size()) {
      DecodedCodePoint next = DecodeCodePointAt(view, position);
      if (!IsWordCodePoint(next.code_point)) break;
      digits_only = digits_only && next.code_point >= '0' && next.code_point <= '9';
      position += next.length;
      ++characters;
    }
    if (view.substr(position, 3) == "://") in_url = true;
    if (in_url) continue;
    char before = begin > 0 ? view[begin - 1] : ' ';
    // A handle, or what follows a '#'/'$' that is not a tag ("#1", "$10", "x#y").
    if (before == '@' || before == '#' || before == '$') continue;
    if (!words || characters < 3 || digits_only) continue;
    std::string_view word = view.substr(begin, position - begin);
    if (IsStopWord(word)) continue;
    tokens.push_back(Token{static_cast<uint32_t>(begin), static_cast<uint32_t>(position), false});
  }
}

WindowAggregate::WindowAggregate(Options options, const std::atomic<int64_t>* watermark)
    : options_(std::move(options)), watermark_(watermark), counters_(WindowCounters()) {
  for (const WindowShape& shape : options_.layout.shapes) {
    std::vector<const DimensionDefinition*>& definitions = dimensions_of_shape_.emplace_back();
    for (Dimension dimension : shape.dimensions) definitions.push_back(&DimensionOf(dimension));
  }
}

Result<std::unique_ptr<TransformState>> WindowAggregate::MakeState() const {
  return std::unique_ptr<TransformState>(std::make_unique<WindowAggregateState>());
}

Status WindowAggregate::Process(Batch& batch, TransformState& state) const {
  auto& worker = static_cast<WindowAggregateState&>(state);
  auto& deltas = worker.deltas;
  const int64_t watermark = watermark_->load(std::memory_order_acquire);
  uint32_t terms_post = UINT32_MAX;  // the post whose terms worker.terms holds
  for (const Mention& mention : batch.mentions) {
    if (mention.per_post) continue;  // issue 11: counted at the brand's merger (dedup)
    const Post& post = batch.posts[mention.post_index];
    // Unique authors are counted by author id; a post without one counts by handle; a post
    // with neither is an author of its own (by post id, else text and time), so unknown
    // authors never collapse into one.
    const std::string_view author = post.author_id.empty() ? post.author_handle : post.author_id;
    const uint64_t author_hash =
        !author.empty() ? HashBytes(author)
                        : HashBytes(post.id.empty() ? post.text : post.id,
                                    0x756e6b6e6f776e00ULL ^ static_cast<uint64_t>(post.event_time_ms));
    // The matcher marks posts written by the brand's own handles and profiles: they count
    // only under author:own, never as customer mentions.
    const bool own_post = mention.own_post;
    const bool reply = !post.reply_to_post_id.empty() || !post.reply_to_handle.empty();
    const bool question = TextAsks(post.text);
    const bool with_terms = options_.term_capacity > 0 && !own_post;
    if (with_terms && terms_post != mention.post_index) {
      worker.terms.Extract(post.text, options_.co_terms);
      terms_post = mention.post_index;
    }
    auto add = [&](WindowMetrics& metrics) {
      metrics.AddMention(author_hash, post.author_followers);
      metrics.replies += reply;
      metrics.questions += question;
      for (const WindowMetricDefinition* counter : counters_) {
        if (uint64_t count = counter->count(post, mention)) {
          metrics.AddCounter(counter->counter_id, count);
        }
      }
    };
    bool late = false;
    for (uint32_t shape_index = 0; shape_index < options_.layout.shapes.size(); ++shape_index) {
      const WindowShape& shape = options_.layout.shapes[shape_index];
      const int64_t step = shape.slide_ms > 0 ? shape.slide_ms : shape.size_ms;
      const int64_t windows = shape.size_ms / step;
      const int64_t last_start = WindowStart(post.event_time_ms, step);
      for (int64_t k = 0; k < windows; ++k) {
        const int64_t start = last_start - k * step;
        if (WindowCloseTime(start, shape.size_ms, options_.allowed_lateness_ms) <= watermark) {
          late = true;
          continue;
        }
        if (own_post) {
          if (std::find(shape.dimensions.begin(), shape.dimensions.end(), Dimension::kAuthor) !=
              shape.dimensions.end()) {
            add(deltas[WindowDeltaKey{mention.brand_index, shape_index, kOwnPost, start}]);
          }
          continue;
        }
        WindowMetrics& total = deltas[WindowDeltaKey{mention.brand_index, shape_index, kBrandTotal, start}];
        add(total);
        if (with_terms && shape_index == options_.term_shape) {
          total.term_capacity = options_.term_capacity;
          for (const PostTerms::Token& token : worker.terms.tokens) {
            // The brand's own hit is not a co-occurring term.
            if (!token.hashtag && token.begin < mention.first_hit_end &&
                mention.first_hit_begin < token.end) {
              continue;
            }
            (token.hashtag ? total.hashtags : total.terms).Add(worker.terms.View(token));
          }
        }
        for (const DimensionDefinition* dimension : dimensions_of_shape_[shape_index]) {
          uint64_t payload = 0;
          if (!dimension->value_of(post, mention, payload)) continue;
          add(deltas[WindowDeltaKey{mention.brand_index, shape_index,
                                    PackDimension(dimension->id, payload), start}]);
        }
      }
    }
    if (late && (batch.late_post_indices.empty() ||
                 batch.late_post_indices.back() != mention.post_index)) {
      batch.late_post_indices.push_back(mention.post_index);
    }
  }
  if (!batch.retractions.empty()) Retract(batch, deltas, watermark);
  return Status::Ok();
}

// Issue 14: an edit replaced an earlier version (operators/dedup.h). Its contribution leaves
// every window that is still open; counts are unsigned and wrap, so the delta may read
// "minus one" until it is merged with the value it corrects (exact modulo 2^64, as every merge
// is). Unique authors and term summaries cannot be taken back (docs/state.md says so); a
// closed window keeps the earlier version (the edit is late there too).
void WindowAggregate::Retract(const Batch& batch, WindowDeltaMap& deltas, int64_t watermark) const {
  for (const Retraction& retraction : batch.retractions) {
    auto take_back = [&](WindowMetrics& metrics) {
      metrics.mentions -= 1;
      if (retraction.followers > 0) metrics.reach -= static_cast<uint64_t>(retraction.followers);
      metrics.replies -= retraction.reply;
      metrics.questions -= retraction.question;
      for (uint32_t i = 0; i < retraction.counter_count; ++i) {
        metrics.AddCounter(retraction.counters[i].id, 0 - retraction.counters[i].value);
      }
    };
    for (uint32_t shape_index = 0; shape_index < options_.layout.shapes.size(); ++shape_index) {
      const WindowShape& shape = options_.layout.shapes[shape_index];
      const int64_t step = shape.slide_ms > 0 ? shape.slide_ms : shape.size_ms;
      const int64_t windows = shape.size_ms / step;
      const int64_t last_start = WindowStart(retraction.event_time_ms, step);
      for (int64_t k = 0; k < windows; ++k) {
        const int64_t start = last_start - k * step;
        if (WindowCloseTime(start, shape.size_ms, options_.allowed_lateness_ms) <= watermark) continue;
        if (retraction.own_post) {
          if (std::find(shape.dimensions.begin(), shape.dimensions.end(), Dimension::kAuthor) !=
              shape.dimensions.end()) {
            take_back(deltas[WindowDeltaKey{retraction.brand_index, shape_index, kOwnPost, start}]);
          }
          continue;
        }
        take_back(deltas[WindowDeltaKey{retraction.brand_index, shape_index, kBrandTotal, start}]);
        for (const DimensionDefinition* dimension : dimensions_of_shape_[shape_index]) {
          for (uint32_t i = 0; i < retraction.dimension_count; ++i) {
            if (retraction.dimensions[i].dimension != static_cast<uint8_t>(dimension->id)) continue;
            take_back(deltas[WindowDeltaKey{
                retraction.brand_index, shape_index,
                PackDimension(dimension->id, retraction.dimensions[i].payload), start}]);
          }
        }
      }
    }
  }
}

Status WindowAggregate::HandOver(TransformState& state, EpochHandOver& epoch) const {
  if (epoch.window_deltas == nullptr) return Status::Internal("window hand-over without a delta map");
  WindowDeltaMap& merged = *epoch.window_deltas;
  auto& deltas = static_cast<WindowAggregateState&>(state).deltas;
  for (auto& [key, delta] : deltas) {
    auto [entry, inserted] = merged.try_emplace(key);
    if (inserted) {
      entry->second = std::move(delta);
    } else {
      entry->second.Merge(delta);
    }
  }
  deltas.clear();
  return Status::Ok();
}


}  // namespace brandpulse
