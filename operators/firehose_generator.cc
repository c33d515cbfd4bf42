#include "operators/firehose_generator.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "engine/event_time.h"
#include "engine/hash.h"
#include "engine/json_writer.h"

namespace brandpulse {
namespace {

constexpr std::string_view kEmoji[] = {"🙂", "😡", "🔥", "👍", "📶", "😂", "🙏", "💸", "🤔", "❤️"};
constexpr std::string_view kEndings[] = {".", "!", "?", "...", "!!", ""};
constexpr std::string_view kBrandSuffixes[] = {"", "", "", "!", ",", "?", "'s", ".", ":"};
constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";

std::string Latin1ToUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    auto byte = static_cast<uint8_t>(c);
    if (byte < 0x80) {
      out.push_back(c);
    } else {
      out.push_back(static_cast<char>(0xC0 | (byte >> 6)));
      out.push_back(static_cast<char>(0x80 | (byte & 0x3F)));
    }
  }
  return out;
}

// Loads up to kMaxWords lower-case words (every k-th, to spread over the alphabet).
Result<std::vector<std::string>> LoadWords(const std::string& path, bool latin1) {
  constexpr size_t kMaxWords = 40000;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound(fmt::format(
        "word list {} is missing (install wamerican, wnorwegian, wspanish)", path));
  }
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.find('\'') != std::string::npos) continue;
    if (line.front() >= 'A' && line.front() <= 'Z') continue;  // names and abbreviations
    all.push_back(latin1 ? Latin1ToUtf8(line) : line);
  }
  if (all.empty()) return Status::NotFound(fmt::format("word list {} is empty", path));
  std::vector<std::string> words;
  size_t stride = std::max<size_t>(1, all.size() / kMaxWords);
  for (size_t i = 0; i < all.size(); i += stride) words.push_back(std::move(all[i]));
  return words;
}

std::string IsoTime(int64_t epoch_ms) { return FormatIsoTime(epoch_ms); }

std::string TwitterTime(int64_t epoch_ms) {
  static constexpr std::string_view kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string iso = FormatIsoTime(epoch_ms);  // 2026-01-01T00:00:00.000Z
  int year = std::stoi(iso.substr(0, 4));
  int month = std::stoi(iso.substr(5, 2));
  int day = std::stoi(iso.substr(8, 2));
  int64_t days = DaysFromCivil(year, month, day);
  int64_t weekday = ((days % 7) + 7 + 4) % 7;  // 1970-01-01 was a Thursday
  return fmt::format("{} {} {:02} {} +0000 {:04}", kDays[weekday], kMonths[month - 1], day,
                     iso.substr(11, 8), year);
}

void AppendHtmlEscaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
}

}  // namespace

std::optional<FirehoseFormat> ParseFirehoseFormat(std::string_view name) {
  if (name == "twitter-v1") return FirehoseFormat::kTwitterV1;
  if (name == "twitter-v2") return FirehoseFormat::kTwitterV2;
  if (name == "jetstream") return FirehoseFormat::kJetstream;
  if (name == "mastodon") return FirehoseFormat::kMastodon;
  if (name == "json") return FirehoseFormat::kJson;
  return std::nullopt;
}

Result<std::unique_ptr<FirehoseGenerator>> FirehoseGenerator::Make(const GeneratorSpec& spec) {
  if (spec.languages.empty()) return Status::InvalidArgument("generator: no languages");
  if (spec.posts_per_second <= 0) return Status::InvalidArgument("generator: rate must be > 0");
  std::unique_ptr<FirehoseGenerator> generator(new FirehoseGenerator(spec));
  for (const std::string& language : spec.languages) {
    std::string file;
    bool latin1 = false;
    if (language == "en") file = "american-english";
    else if (language == "no" || language == "nb") file = "bokmaal", latin1 = true;
    else if (language == "es") file = "spanish";
    else return Status::InvalidArgument(fmt::format("generator: no word list for language '{}' (en, no, es)", language));
    ASSIGN_OR_RETURN(std::vector<std::string> words,
                     LoadWords(spec.dictionary_directory + "/" + file, latin1));
    generator->words_.push_back(std::move(words));
  }
  double total = 0;
  for (size_t rank = 1; rank <= spec.brands.size(); ++rank) {
    total += 1.0 / std::pow(static_cast<double>(rank), spec.zipf_exponent);
    generator->brand_cumulative_.push_back(total);
  }
  for (double& weight : generator->brand_cumulative_) weight /= total;
  uint64_t seed = spec.seed;
  for (uint64_t& word : generator->state_) {
    seed += 0x9e3779b97f4a7c15ULL;
    word = MixBits(seed);
  }
  return generator;
}

uint64_t FirehoseGenerator::NextRandom() {
  // xoshiro256**
  const uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
  const uint64_t shifted = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= shifted;
  state_[3] = std::rotl(state_[3], 45);
  return result;
}

double FirehoseGenerator::NextUnit() { return static_cast<double>(NextRandom() >> 11) * 0x1.0p-53; }

uint64_t FirehoseGenerator::Below(uint64_t bound) { return bound == 0 ? 0 : NextRandom() % bound; }

FirehoseGenerator::Author FirehoseGenerator::AuthorAt(uint64_t index) const {
  uint64_t hash = MixBits(spec_.seed * 0x632be59bd9b4e019ULL + index);
  const std::vector<std::string>& words = words_[hash % words_.size()];
  const std::string& word = words[(hash >> 8) % words.size()];
  Author author;
  author.id = std::to_string(1000000 + index * 7919 % 1000000007ULL + index);
  author.handle.clear();
  for (char c : word) {
    auto byte = static_cast<uint8_t>(c);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) author.handle.push_back(c);
    else if (byte >= 0x80) author.handle.push_back('x');  // handles are ASCII
    if (author.handle.size() >= 10) break;
  }
  author.handle += fmt::format("_{}", index);
  // Followers: heavy-tailed, 0 .. ~1M.
  int magnitude = static_cast<int>((hash >> 20) % 7);
  author.followers = static_cast<int64_t>(((hash >> 32) % 9 + 1) * std::pow(10.0, magnitude)) / 3;
  return author;
}

void FirehoseGenerator::BuildText(size_t language) {
  text_.clear();
  last_brands_.clear();
  const std::vector<std::string>& words = words_[language];
  size_t word_count = 5 + Below(26);
  bool mention = NextUnit() < spec_.mention_share && !spec_.brands.empty();
  size_t brand_mentions = mention ? (NextUnit() < 0.2 ? 2 : 1) : 0;
  std::vector<size_t> brand_positions;
  for (size_t i = 0; i < brand_mentions; ++i) brand_positions.push_back(Below(word_count + 1));
  std::sort(brand_positions.begin(), brand_positions.end());
  size_t next_brand = 0;
  for (size_t position = 0; position <= word_count; ++position) {
    while (next_brand < brand_positions.size() && brand_positions[next_brand] == position) {
      double pick = NextUnit();
      size_t brand = static_cast<size_t>(
          std::lower_bound(brand_cumulative_.begin(), brand_cumulative_.end(), pick) -
          brand_cumulative_.begin());
      brand = std::min(brand, spec_.brands.size() - 1);
      const GeneratedBrand& generated = spec_.brands[brand];
      if (!generated.terms.empty()) {
        std::string term = generated.terms[Below(generated.terms.size())];
        uint64_t style = Below(10);
        if (style < 3 && !term.empty() && term[0] >= 'a' && term[0] <= 'z') {
          term[0] = static_cast<char>(term[0] - 32);  // Capitalized
        } else if (style == 3) {
          for (char& c : term) {
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
          }
        }
        if (!text_.empty()) text_.push_back(' ');
        text_ += term;
        text_ += kBrandSuffixes[Below(std::size(kBrandSuffixes))];
        last_brands_.push_back(generated.id);
      }
      ++next_brand;
    }
    if (position == word_count) break;
    if (!text_.empty()) text_.push_back(' ');
    uint64_t kind = Below(100);
    if (kind < 3) {
      text_ += kEmoji[Below(std::size(kEmoji))];
    } else if (kind < 6) {
      text_.push_back('#');
      text_ += words[Below(words.size())];
    } else if (kind < 8) {
      text_.push_back('@');
      text_ += AuthorAt(Below(spec_.author_count)).handle;
    } else {
      const std::string& word = words[Below(words.size())];
      if (position == 0 && !word.empty() && word[0] >= 'a' && word[0] <= 'z') {
        text_.push_back(static_cast<char>(word[0] - 32));
        text_.append(word, 1);
      } else {
        text_ += word;
      }
      if (Below(12) == 0) text_ += ",";
    }
  }
  text_ += kEndings[Below(std::size(kEndings))];
  std::sort(last_brands_.begin(), last_brands_.end());
  last_brands_.erase(std::unique(last_brands_.begin(), last_brands_.end()), last_brands_.end());
}

bool FirehoseGenerator::Next(std::string& out) {
  if (produced_ >= spec_.count) return false;
  const uint64_t index = produced_++;
  const int64_t nominal =
      spec_.start_time_ms + static_cast<int64_t>(static_cast<double>(index) * 1000.0 / spec_.posts_per_second);
  const int64_t event_time =
      nominal - (spec_.max_disorder_ms > 0 ? static_cast<int64_t>(Below(spec_.max_disorder_ms + 1)) : 0);
  const size_t language = Below(spec_.languages.size());
  // A skewed author population: a few authors post a lot.
  double unit = NextUnit();
  const Author author = AuthorAt(static_cast<uint64_t>(unit * unit * static_cast<double>(spec_.author_count)));
  const bool reply = static_cast<int>(Below(100)) < spec_.reply_share_percent;
  const Author reply_to = AuthorAt(Below(spec_.author_count));
  BuildText(language);
  last_malformed_ = NextUnit() < spec_.malformed_share;
  size_t start = out.size();
  WriteRecord(out, author, event_time, language, reply, reply_to);
  if (last_malformed_) {
    last_brands_.clear();
    switch (Below(4)) {
      case 0:  // truncated
        out.resize(start + (out.size() - start) / 2);
        break;
      case 1: {  // an invalid UTF-8 byte inside the text
        size_t text_at = out.find("\"text\":\"", start);
        if (text_at == std::string::npos) text_at = out.find("\"content\":\"", start);
        size_t at = text_at == std::string::npos ? start + 1 : out.find(':', text_at) + 2;
        out.insert(at, 1, '\xff');
        break;
      }
      case 2: {  // text missing: rename the field
        size_t text_at = out.find("\"text\":", start);
        if (text_at == std::string::npos) text_at = out.find("\"content\":", start);
        if (text_at != std::string::npos) out.replace(text_at, 5, "\"txet");
        else out.resize(start + (out.size() - start) / 2);
        break;
      }
      default: {  // text of the wrong type
        size_t text_at = out.find("\"text\":\"", start);
        if (text_at == std::string::npos) text_at = out.find("\"content\":\"", start);
        if (text_at == std::string::npos) {
          out.resize(start + (out.size() - start) / 2);
          break;
        }
        size_t value = out.find(':', text_at) + 1;
        size_t close = value + 1;
        while (close < out.size() && !(out[close] == '"' && out[close - 1] != '\\')) ++close;
        out.replace(value, close + 1 - value, "12345");
        break;
      }
    }
  }
  return true;
}

void FirehoseGenerator::WriteRecord(std::string& out, const Author& author, int64_t event_time_ms,
                                    size_t language, bool reply, const Author& reply_to) {
  const std::string& language_tag = spec_.languages[language];
  const uint64_t index = produced_ - 1;
  // Snowflake-like ids: time in the high bits, sequence in the low ones.
  post_id_ = std::to_string(((static_cast<uint64_t>(event_time_ms) - 1288834974657ULL) << 22) |
                            (index & 0x3FFFFF));
  const std::string reply_post_id =
      std::to_string(((static_cast<uint64_t>(event_time_ms) - 1288834974657ULL - 60000) << 22) |
                     ((index * 31) & 0x3FFFFF));
  switch (spec_.format) {
    case FirehoseFormat::kTwitterV2: {
      out += "{\"data\":[{\"id\":\"" + post_id_ + "\",\"text\":";
      AppendJsonString(out, text_);
      out += ",\"author_id\":\"" + author.id + "\",\"created_at\":\"" + IsoTime(event_time_ms) +
             "\",\"lang\":\"" + language_tag + "\",\"conversation_id\":\"" +
             (reply ? reply_post_id : post_id_) + "\"";
      if (reply) {
        out += ",\"in_reply_to_user_id\":\"" + reply_to.id +
               "\",\"referenced_tweets\":[{\"type\":\"replied_to\",\"id\":\"" + reply_post_id + "\"}]";
      }
      out += fmt::format(
          ",\"public_metrics\":{{\"retweet_count\":{},\"reply_count\":{},\"like_count\":{},\"quote_count\":0}}}}]",
          index % 7, index % 3, index % 50);
      out += ",\"includes\":{\"users\":[{\"id\":\"" + author.id + "\",\"username\":\"" +
             author.handle + "\",\"name\":\"" + author.handle + "\",\"public_metrics\":{";
      out += fmt::format("\"followers_count\":{},\"following_count\":{},\"tweet_count\":{}}}}}",
                         author.followers, author.followers % 997, index % 10000);
      if (reply) {
        out += ",{\"id\":\"" + reply_to.id + "\",\"username\":\"" + reply_to.handle +
               "\",\"name\":\"" + reply_to.handle + "\",\"public_metrics\":{" +
               fmt::format("\"followers_count\":{}}}}}", reply_to.followers);
      }
      out += "]}}";
      break;
    }
    case FirehoseFormat::kTwitterV1: {
      out += "{\"created_at\":\"" + TwitterTime(event_time_ms) + "\",\"id\":" + post_id_ +
             ",\"id_str\":\"" + post_id_ + "\",\"text\":";
      AppendJsonString(out, text_);
      out += ",\"truncated\":false,\"lang\":\"" + language_tag + "\"";
      if (reply) {
        out += ",\"in_reply_to_status_id\":" + reply_post_id + ",\"in_reply_to_status_id_str\":\"" +
               reply_post_id + "\",\"in_reply_to_user_id\":" + reply_to.id +
               ",\"in_reply_to_user_id_str\":\"" + reply_to.id + "\",\"in_reply_to_screen_name\":\"" +
               reply_to.handle + "\"";
      } else {
        out += ",\"in_reply_to_status_id\":null,\"in_reply_to_status_id_str\":null,"
               "\"in_reply_to_user_id\":null,\"in_reply_to_user_id_str\":null,"
               "\"in_reply_to_screen_name\":null";
      }
      out += ",\"user\":{\"id\":" + author.id + ",\"id_str\":\"" + author.id + "\",\"name\":\"" +
             author.handle + "\",\"screen_name\":\"" + author.handle + "\"," +
             fmt::format("\"followers_count\":{}", author.followers) +
             "},\"entities\":{\"hashtags\":[],\"user_mentions\":[]}," +
             fmt::format("\"retweet_count\":{},\"favorite_count\":{}}}", index % 7, index % 50);
      break;
    }
    case FirehoseFormat::kJetstream: {
      std::string did = "did:plc:";
      uint64_t hash = MixBits(HashBytes(author.id) ^ spec_.seed);
      for (int i = 0; i < 24; ++i) {
        did.push_back(kBase32[hash & 31]);
        hash = i % 12 == 11 ? MixBits(hash) : hash >> 5;
      }
      std::string rkey;
      uint64_t key_hash = MixBits(index ^ (spec_.seed << 32));
      for (int i = 0; i < 13; ++i, key_hash >>= 5) rkey.push_back(kBase32[key_hash & 31]);
      const int64_t time_us = (event_time_ms + 250) * 1000;
      uint64_t kind = index % 10;  // one event in ten is not a post, as on the real stream
      if (kind == 9) {
        out += "{\"did\":\"" + did + "\"," + fmt::format("\"time_us\":{}", time_us) +
               ",\"kind\":\"commit\",\"commit\":{\"rev\":\"3l" + rkey +
               "\",\"operation\":\"create\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"" + rkey +
               "\",\"record\":{\"$type\":\"app.bsky.feed.like\",\"createdAt\":\"" +
               IsoTime(event_time_ms) + "\",\"subject\":{\"cid\":\"bafyreib" + rkey +
               "\",\"uri\":\"at://" + did + "/app.bsky.feed.post/" + rkey + "\"}},\"cid\":\"bafyreia" +
               rkey + "\"}}";
        last_brands_.clear();
        break;
      }
      out += "{\"did\":\"" + did + "\"," + fmt::format("\"time_us\":{}", time_us) +
             ",\"kind\":\"commit\",\"commit\":{\"rev\":\"3l" + rkey +
             "\",\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\",\"rkey\":\"" + rkey +
             "\",\"record\":{\"$type\":\"app.bsky.feed.post\",\"createdAt\":\"" +
             IsoTime(event_time_ms) + "\",\"langs\":[\"" + language_tag + "\"]";
      if (reply) {
        std::string parent = "at://did:plc:" + reply_to.handle + "/app.bsky.feed.post/" + rkey;
        out += ",\"reply\":{\"parent\":{\"cid\":\"bafyreic" + rkey + "\",\"uri\":\"" + parent +
               "\"},\"root\":{\"cid\":\"bafyreic" + rkey + "\",\"uri\":\"" + parent + "\"}}";
      }
      out += ",\"text\":";
      AppendJsonString(out, text_);
      out += "},\"cid\":\"bafyreia" + rkey + "\"}}";
      break;
    }
    case FirehoseFormat::kMastodon: {
      std::string html = "<p>";
      size_t position = 0;
      while (position < text_.size()) {
        size_t space = text_.find(' ', position);
        if (space == std::string::npos) space = text_.size();
        std::string_view word(text_.data() + position, space - position);
        if (word.size() > 1 && word[0] == '#') {
          html += "<a href=\"https://social.example/tags/";
          AppendHtmlEscaped(html, word.substr(1));
          html += "\" class=\"mention hashtag\" rel=\"tag\">#<span>";
          AppendHtmlEscaped(html, word.substr(1));
          html += "</span></a>";
        } else {
          AppendHtmlEscaped(html, word);
        }
        if (space < text_.size()) html.push_back(' ');
        position = space + 1;
      }
      html += "</p>";
      out += "{\"id\":\"" + post_id_ + "\",\"created_at\":\"" + IsoTime(event_time_ms) + "\"";
      if (reply) {
        out += ",\"in_reply_to_id\":\"" + reply_post_id + "\",\"in_reply_to_account_id\":\"" +
               reply_to.id + "\"";
      } else {
        out += ",\"in_reply_to_id\":null,\"in_reply_to_account_id\":null";
      }
      out += ",\"sensitive\":false,\"spoiler_text\":\"\",\"visibility\":\"public\",\"language\":\"" +
             language_tag + "\",\"uri\":\"https://social.example/users/" + author.handle +
             "/statuses/" + post_id_ + "\",\"url\":\"https://social.example/@" + author.handle + "/" +
             post_id_ + "\"," + fmt::format("\"replies_count\":{},\"reblogs_count\":{},\"favourites_count\":{}", index % 3, index % 7, index % 50) +
             ",\"content\":";
      AppendJsonString(out, html);
      out += ",\"account\":{\"id\":\"" + author.id + "\",\"username\":\"" + author.handle +
             "\",\"acct\":\"" + author.handle + "@social.example\",\"display_name\":\"" +
             author.handle + "\"," + fmt::format("\"followers_count\":{}", author.followers) + "}}";
      break;
    }
    case FirehoseFormat::kJson: {
      out += "{\"id\":\"" + post_id_ + "\",\"text\":";
      AppendJsonString(out, text_);
      out += ",\"author\":\"" + author.id + "\"," +
             fmt::format("\"followers\":{},\"ts\":{}", author.followers, event_time_ms) +
             ",\"lang\":\"" + language_tag + "\"}";
      break;
    }
  }
}

}  // namespace brandpulse
